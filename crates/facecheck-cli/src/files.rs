//! The file handling of the device and fleet commands: atomic replacement, private key files, stdin arguments, the
//! clock.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use zeroize::Zeroizing;

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

/// `argument` itself, or all of stdin when it is `-`, without surrounding whitespace.
pub fn argument_or_stdin(argument: &str) -> Result<String, String> {
    if argument != "-" {
        return Ok(argument.trim().to_owned());
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(text.trim().to_owned())
}

/// An exclusive lock on the file `<path>.lock` beside `path`, held until the returned handle is dropped: the
/// read-verify-write of a registry or counter-state file runs under it, so concurrent commands on the same file take
/// turns instead of each accepting the same token. Waits for a lock another process holds.
pub fn lock_beside(path: &Path) -> Result<File, String> {
    let name = path.file_name().ok_or_else(|| format!("{} is not a file name", path.display()))?;
    let lock_path = path.with_file_name(format!("{}.lock", name.to_string_lossy()));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", lock_path.display()))?;
    file.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    Ok(file)
}

/// Replaces `path` with `bytes` atomically: a temp file in the same folder is written and synced, renamed over
/// `path`, and the folder synced, so a crash leaves the old file or the new one. Concurrent writers take
/// [`lock_beside`] first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", path.display());
    let name = path.file_name().ok_or_else(|| format!("{} is not a file name", path.display()))?;
    let temp = path.with_file_name(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let written = File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(fail("write", e));
    }
    sync_folder(path).map_err(|e| fail("sync the folder of", e))
}

/// Writes `bytes` to a new file readable by its owner only (mode 0600); refuses to replace an existing file.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
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

/// Reads a secret file, refusing one that other users may read or write (Unix permissions).
pub fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let metadata = fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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
    File::open(path)
        .and_then(|file| file.take(4096).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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
