//! What the CLI's integration tests share: a temp directory removed on drop, and the core's fixture photos.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

/// A fresh directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `facecheck-cli-<pid>-<name>` under the system temp directory, emptied first.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("facecheck-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The path of one of the core's fixture photos (`crates/facecheck/tests/fixtures`).
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../facecheck/tests/fixtures").join(name)
}

/// [`fixture_path`] as a command-line argument.
pub fn fixture(name: &str) -> String {
    fixture_path(name).to_str().expect("UTF-8 path").to_owned()
}
