//! The vault file on disk: atomic replacement, the crash points tests stop at, the lock, bounded reads and
//! deletion. No key and no layout: this module moves bytes that [`seal`](super::seal) made.
//!
//! - Every write goes to `<vault>.tmp` (created new, mode `0600`), is synced, renamed over the vault, and the
//!   directory synced; a crash at any point leaves the old or the new vault, and a leftover temp file is removed by
//!   the next open or write. [`WriteStep`] names the steps so that tests can stop a write before any of them.
//! - A vault is opened with an exclusive lock on `<vault>.lock` ([`VaultLock`]), so two handles (in this process or
//!   another) cannot advance the same counter: `flock(2)` (through `rustix`, the same call on Linux and on Android,
//!   where the standard library's `File::try_lock` is unsupported) and a process-wide table of the lock files this
//!   process holds, which keeps the guarantee inside one process where a filesystem emulates `flock` with
//!   per-process locks (NFS). A platform or filesystem that cannot lock fails the open: there is no unlocked vault.
//! - A read stops after the largest file a vault can be.

use super::format::MAX_FILE_LEN;
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The steps of an atomic write, in order. Tests stop a write just before any of them to simulate a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteStep {
    CreateTemp,
    WriteTemp,
    SyncTemp,
    Rename,
    SyncDir,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Where a write puts the new vault before renaming it over the old one: `<vault>.tmp`.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    sibling(path, ".tmp")
}

/// The file whose lock keeps a second handle out: `<vault>.lock`.
pub(super) fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".lock")
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// The lock files this process holds, by device and inode: a second handle in this process is refused here, before
/// `flock(2)` is asked, whatever the filesystem's locks do within one process.
static HELD: Mutex<BTreeSet<(u64, u64)>> = Mutex::new(BTreeSet::new());

fn held() -> std::sync::MutexGuard<'static, BTreeSet<(u64, u64)>> {
    // The set is only inserted into and removed from, never left half-changed: a poisoned lock is still sound.
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The exclusive hold of one vault: the open `<vault>.lock` with its `flock(2)` lock, and its entry in this
/// process's table. Dropping it releases both.
pub(super) struct VaultLock {
    // Closing the file releases the flock.
    _file: File,
    id: (u64, u64),
}

impl Drop for VaultLock {
    fn drop(&mut self) {
        held().remove(&self.id);
    }
}

/// Takes the exclusive lock on `<vault>.lock`: [`Error::VaultBusy`] if another handle, in this process or another,
/// holds it; [`Error::VaultIo`] if the lock file cannot be opened or locked (a filesystem without locks included).
pub(super) fn lock_vault(path: &Path) -> Result<VaultLock> {
    use rustix::fs::{flock, FlockOperation};
    use std::os::unix::fs::MetadataExt;
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path(path))
        .map_err(|source| Error::VaultIo { op: "open the lock file", source })?;
    let meta = file.metadata().map_err(|source| Error::VaultIo { op: "inspect the lock file", source })?;
    let id = (meta.dev(), meta.ino());
    let mut table = held();
    if !table.insert(id) {
        return Err(Error::VaultBusy);
    }
    // From here on, the lock's drop removes the entry again, whether flock succeeds or not.
    let lock = VaultLock { _file: file, id };
    match flock(&lock._file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            drop(table);
            Ok(lock)
        }
        Err(e) => {
            drop(table); // the lock's drop takes the table again
            let e = io::Error::from(e);
            Err(match e.kind() {
                io::ErrorKind::WouldBlock => Error::VaultBusy,
                _ => Error::VaultIo { op: "lock the vault", source: e },
            })
        }
    }
}

/// The bytes of the vault file, read no further than the largest vault.
pub(super) fn read_vault_file(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::VaultMissing,
        _ => Error::VaultIo { op: "open the vault", source },
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::VaultIo { op: "read the vault", source })?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(Error::VaultCorrupt("the file is larger than any vault"));
    }
    Ok(bytes)
}

/// Removes a temp file left by an interrupted write, if there is one.
pub(super) fn remove_stale_temp(temp: &Path) -> Result<()> {
    match fs::remove_file(temp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::VaultIo { op: "remove a stale temp file", source }),
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

enum WriteFailure {
    /// A simulated crash: stop where we are, as a killed process would, without cleaning up.
    Crash,
    Io(&'static str, io::Error),
}

/// Writes `bytes` to a temp file next to `path`, syncs it, renames it over `path` and syncs the directory.
pub(super) fn write_atomic(path: &Path, bytes: &[u8], crash_before: Option<WriteStep>) -> Result<()> {
    let temp = temp_path(path);
    remove_stale_temp(&temp)?;
    let result = write_steps(path, &temp, bytes, |step| crash_before == Some(step));
    match result {
        Ok(()) => Ok(()),
        Err(WriteFailure::Crash) => {
            Err(Error::VaultIo { op: "write the vault (simulated crash)", source: io::Error::other("simulated crash") })
        }
        Err(WriteFailure::Io(op, source)) => {
            // Best effort: a leftover temp file is also removed by the next open or write.
            let _ = fs::remove_file(&temp);
            Err(Error::VaultIo { op, source })
        }
    }
}

fn write_steps(
    path: &Path,
    temp: &Path,
    bytes: &[u8],
    crash: impl Fn(WriteStep) -> bool,
) -> std::result::Result<(), WriteFailure> {
    let reach = |step: WriteStep| {
        if crash(step) {
            Err(WriteFailure::Crash)
        } else {
            Ok(())
        }
    };
    let fail = |op: &'static str| move |e: io::Error| WriteFailure::Io(op, e);
    reach(WriteStep::CreateTemp)?;
    let mut file = private_options().write(true).create_new(true).open(temp).map_err(fail("create the temp file"))?;
    if crash(WriteStep::WriteTemp) {
        // A crash in the middle of the write leaves part of the bytes.
        let _ = file.write_all(&bytes[..bytes.len() / 2]);
        return Err(WriteFailure::Crash);
    }
    file.write_all(bytes).map_err(fail("write the temp file"))?;
    reach(WriteStep::SyncTemp)?;
    file.sync_all().map_err(fail("sync the temp file"))?;
    drop(file);
    reach(WriteStep::Rename)?;
    fs::rename(temp, path).map_err(fail("replace the vault"))?;
    reach(WriteStep::SyncDir)?;
    sync_dir(path).map_err(fail("sync the vault directory"))
}

/// Deletes the vault file at `path`: its bytes are overwritten with zeros and synced, then the file is removed and
/// the directory synced, and the lock file removed.
pub(super) fn destroy(path: &Path) -> Result<()> {
    let fail = |op: &'static str| move |source: io::Error| Error::VaultIo { op, source };
    let mut file = OpenOptions::new().write(true).open(path).map_err(fail("open the vault for erasure"))?;
    let len = file.metadata().map_err(fail("read the vault size"))?.len();
    let zeros = vec![0u8; usize::try_from(len).unwrap_or(MAX_FILE_LEN).min(MAX_FILE_LEN)];
    file.write_all(&zeros).map_err(fail("overwrite the vault"))?;
    file.sync_all().map_err(fail("sync the overwritten vault"))?;
    drop(file);
    fs::remove_file(path).map_err(fail("remove the vault"))?;
    sync_dir(path).map_err(fail("sync the vault directory"))?;
    match fs::remove_file(lock_path(path)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::VaultIo { op: "remove the lock file", source }),
    }
}
