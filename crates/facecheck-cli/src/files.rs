//! The file handling of the device and fleet commands: atomic replacement, private key files, token arguments, the
//! clock.
//!
//! Every file these commands create is opened as a new file (`O_EXCL`) and never through a symbolic link
//! (`O_NOFOLLOW`): a name planted in a shared folder (a link to another file, a stale temporary file) makes the
//! command pick another temporary name or fail, never write where it points.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Most bytes read from a token file or stdin (tokens are at most `facecheck_attest::MAX_TOKEN_LEN`, 8 KiB).
const MAX_TOKEN_FILE: u64 = 1 << 20;

/// The current time, unix seconds.
pub fn now() -> Result<u64, String> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| "the system clock is before 1970".to_owned())
}

/// The file's bytes, or `None` if there is no file.
pub fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The token (a registration statement, an attestation or an erasure receipt) an argument names, without
/// surrounding whitespace:
/// - `-`: all of stdin;
/// - `@PATH`: the file PATH;
/// - three runs of base64url characters joined by dots (the form of a compact JWS): the argument itself;
/// - anything else: the path of a file holding the token (`statement.jws`, `./a.b.c`).
pub fn token_argument(argument: &str) -> Result<String, String> {
    let (text, source) = if argument == "-" {
        (read_token(std::io::stdin().lock()), "stdin".to_owned())
    } else if let Some(path) = argument.strip_prefix('@') {
        (File::open(path).and_then(read_token), path.to_owned())
    } else if is_compact_jws(argument.trim()) {
        return Ok(argument.trim().to_owned());
    } else {
        (File::open(argument).and_then(read_token), argument.to_owned())
    };
    text.map(|text| text.trim().to_owned()).map_err(|e| format!("cannot read a token from {source}: {e}"))
}

fn read_token(reader: impl Read) -> std::io::Result<String> {
    let mut text = String::new();
    reader.take(MAX_TOKEN_FILE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_TOKEN_FILE {
        return Err(std::io::Error::other("more than 1 MiB, not a token"));
    }
    Ok(text)
}

fn is_compact_jws(text: &str) -> bool {
    let base64url = |part: &str| part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    text.split('.').count() == 3 && text.split('.').all(base64url)
}

/// An exclusive lock on the file `<path>.lock` beside `path`, held until the returned handle is dropped: the
/// read-verify-write of a registry or counter-state file runs under it, so concurrent commands on the same file take
/// turns instead of each accepting the same token. Waits for a lock another process holds.
pub fn lock_beside(path: &Path) -> Result<File, String> {
    let name = path.file_name().ok_or_else(|| format!("{} is not a file name", path.display()))?;
    let lock_path = path.with_file_name(format!("{}.lock", name.to_string_lossy()));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    no_follow(&mut options);
    let file =
        options.open(&lock_path).map_err(|e| format!("cannot open the lock file {}: {e}", lock_path.display()))?;
    file.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    Ok(file)
}

/// Replaces `path` with `bytes` atomically: a new temporary file in the same folder is written and synced, renamed
/// over `path`, and the folder synced, so a crash leaves the old file or the new one. Concurrent writers take
/// [`lock_beside`] first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", path.display());
    let (temp, mut file) = create_temp(path).map_err(|e| fail("create a temporary file beside", e))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(fail("write", e));
    }
    sync_folder(path).map_err(|e| fail("sync the folder of", e))
}

/// A new temporary file beside `path`: `.NAME.tmp-PID`, or when that name is taken `.NAME.tmp-PID-1`, `-2`, ...
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?.to_string_lossy();
    let base = format!(".{name}.tmp-{}", std::process::id());
    let mut taken = None;
    for n in 0..100 {
        let temp = path.with_file_name(if n == 0 { base.clone() } else { format!("{base}-{n}") });
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        no_follow(&mut options);
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => taken = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(taken.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Writes `bytes` to a new file readable by its owner only (mode 0600); refuses to replace an existing file.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    no_follow(&mut options);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists; refusing to overwrite it", path.display()),
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    sync_folder(path).map_err(|e| format!("cannot sync the folder of {}: {e}", path.display()))
}

/// Makes `options` refuse to open a symbolic link (Unix; elsewhere `create_new` alone).
fn no_follow(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    #[cfg(not(unix))]
    let _ = options;
}

/// Reads a secret file, refusing one that other users may read or write (Unix permissions, of the file opened).
pub fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let fail = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = File::open(path).map_err(fail)?;
    let metadata = file.metadata().map_err(fail)?;
    #[cfg(unix)]
    {
        let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is accessible to other users (mode {mode:o}); make it private with `chmod 600`",
                path.display()
            ));
        }
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0).min(4096)));
    file.take(4096).read_to_end(&mut bytes).map_err(fail)?;
    Ok(bytes)
}

fn sync_folder(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::{lock_beside, write_atomic};
    use std::os::unix::fs::symlink;

    /// A link planted where the temporary file goes (issue 13): before, the registry's new bytes went through it
    /// into the file it points to.
    #[test]
    fn write_atomic_never_writes_through_a_planted_link() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (target, victim) = (dir.path().join("registry.json"), dir.path().join("victim"));
        std::fs::write(&victim, "untouched").expect("writes");
        symlink(&victim, dir.path().join(format!(".registry.json.tmp-{}", std::process::id()))).expect("links");
        write_atomic(&target, b"new").expect("written under another temporary name");
        assert_eq!(std::fs::read_to_string(&victim).expect("reads"), "untouched");
        assert_eq!(std::fs::read_to_string(&target).expect("reads"), "new");
        write_atomic(&target, b"newer").expect("written again");
        assert_eq!(std::fs::read_to_string(&target).expect("reads"), "newer");
    }

    #[test]
    fn a_lock_file_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let victim = dir.path().join("victim");
        symlink(&victim, dir.path().join("registry.json.lock")).expect("links");
        let err = lock_beside(&dir.path().join("registry.json")).expect_err("refused");
        assert!(err.contains("cannot open the lock file"), "{err}");
        assert!(!victim.exists(), "nothing was created through the link");
    }
}
