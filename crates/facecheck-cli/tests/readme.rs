//! The README's command-line walk-through runs exactly as written (issue 13: it had drifted, and failed).
//!
//! The block that starts with `facecheck keygen --out kek` is read from `README.md` and run by `sh -e` in an empty
//! folder, line by line as a shell would, with two substitutions made outside the text: the binary under test is
//! first on the `PATH` as `facecheck`, and the photos the block names are copied into the folder from the core's
//! fixtures (`s1.jpg`, `s2.jpg`, `s3.jpg` are `obama.jpg`, `obama1.jpg`, `obama2.jpg`; `selfie.jpg` is
//! `exif_orientation6.jpg`, another photo of the same man).

mod common;

use common::{fixture_path, TempDir};
use std::path::Path;
use std::process::Command;

const PHOTOS: [(&str, &str); 4] = [
    ("s1.jpg", "obama.jpg"),
    ("s2.jpg", "obama1.jpg"),
    ("s3.jpg", "obama2.jpg"),
    ("selfie.jpg", "exif_orientation6.jpg"),
];

/// The lines of the README's code block that starts with `first`, up to its closing fence.
fn readme_block(first: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).expect("README.md");
    let start = readme.find(&format!("\n{first}")).expect("the walk-through is in README.md") + 1;
    let end = start + readme[start..].find("\n```").expect("the block ends");
    readme[start..end].to_owned()
}

#[test]
fn readme_walk_through_runs_as_written() {
    let block = readme_block("facecheck keygen --out kek");
    let dir = TempDir::new("readme");
    for (name, source) in PHOTOS {
        assert!(block.contains(name), "the walk-through names {name}");
        std::fs::copy(fixture_path(source), dir.0.join(name)).expect("copies a fixture");
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_facecheck")).parent().expect("the binary's folder");
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("a PATH");
    let output =
        Command::new("sh").args(["-e", "-c", &block]).current_dir(&dir.0).env("PATH", path).output().expect("sh runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the walk-through failed:\n{block}\n--- stderr:\n{stderr}");
    // What the lines say they do: a registered device, a verified match with its counter recorded, a receipt.
    assert!(stderr.contains("registered device key") && stderr.contains("check-in: match"), "{stderr}");
    let verified = stdout.find('{').map(|start| &stdout[start..=stdout.rfind('}').expect("the claims end")]);
    let claims: serde_json::Value = serde_json::from_str(verified.expect("attest verify prints the claims"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!((&claims["res"], &claims["sub"], &claims["aud"]), (&"match".into(), &"D7".into(), &"F1".into()));
    let counters = std::fs::read_to_string(dir.0.join("counters.json")).expect("the counter state");
    assert!(counters.contains(claims["iss"].as_str().expect("the key id")), "{counters}");
    let receipt = stdout.lines().last().expect("erase prints the receipt");
    assert_eq!(receipt.split('.').count(), 3, "{receipt}");
}
