//! Native handles: one [`Session`] (the engine with its models loaded once, and the driver's vault) per `open`.
//!
//! Java holds a `long` handle, never a pointer. Handles index a process-wide table and are never reused, so a
//! handle that was closed (once or twice), or a made-up number, finds nothing and the call fails with
//! [`BridgeError::Closed`]; nothing is ever freed while in use. A call clones the session's `Arc` out of the table
//! and works on it without holding the table lock; `close` removes the entry, and the session (and its vault lock)
//! is dropped when the last call using it returns. Calls on one session are serialised by its mutex, which is all
//! the vault needs; calls on different sessions run in parallel.
//!
//! An erasure retires the session's key-encryption key with the vault ([`Slot::retire`]): the key is wiped, and
//! every later call that needs the vault fails with [`BridgeError::Erased`], so that nothing is ever sealed again
//! with the key the app is deleting. Enrolling again takes a new session opened with a new key.

use crate::error::{BridgeError, Result};
use facecheck::{Clock, Engine, Kek, Vault};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One open engine and its vault.
pub(crate) struct Session {
    /// The models, checked, parsed and optimised once.
    pub(crate) engine: Engine,
    /// Where the driver's vault is, or will be created by enrollment.
    pub(crate) path: PathBuf,
    /// The key and the vault, behind the lock that serialises the calls on this session.
    pub(crate) slot: Mutex<Slot>,
}

/// What a session holds of the driver's vault.
pub(crate) struct Slot {
    /// The key the vault is sealed with (wiped when dropped); `None` once an erasure retired it.
    kek: Option<Kek>,
    /// `Some` while the vault is open (its file lock held), `None` while there is no vault at the path (before the
    /// first enrollment, after an erasure) or while an enrollment creates it.
    pub(crate) vault: Option<Vault>,
}

impl Slot {
    /// A slot holding `kek`, and `vault` if one was opened.
    pub(crate) fn new(kek: Kek, vault: Option<Vault>) -> Slot {
        Slot { kek: Some(kek), vault }
    }

    /// The key-encryption key, or [`BridgeError::Erased`] once an erasure retired it.
    pub(crate) fn kek(&self) -> Result<&Kek> {
        self.kek.as_ref().ok_or(BridgeError::Erased)
    }

    /// The open vault, opening it first if the slot has none; [`facecheck::Error::VaultMissing`] (`not_enrolled`)
    /// when there is no vault at `path`, [`BridgeError::Erased`] after an erasure.
    pub(crate) fn open_vault(&mut self, path: &Path, now: Clock) -> Result<&mut Vault> {
        if self.vault.is_none() {
            self.vault = Some(Vault::open(path, self.kek()?, now)?);
        }
        self.vault.as_mut().ok_or(BridgeError::Core(facecheck::Error::VaultMissing))
    }

    /// Takes the open vault out for an erasure, which consumes it; the slot keeps no vault.
    pub(crate) fn take_vault(&mut self, path: &Path, now: Clock) -> Result<Vault> {
        self.open_vault(path, now)?;
        self.vault.take().ok_or(BridgeError::Core(facecheck::Error::VaultMissing))
    }

    /// After an erasure: wipes the key-encryption key, which must never seal anything again.
    pub(crate) fn retire(&mut self) {
        self.vault = None;
        self.kek = None;
    }
}

impl Session {
    /// The slot, locked for the duration of one call.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Slot>> {
        self.slot.lock().map_err(|_: PoisonError<_>| BridgeError::Poisoned)
    }
}

static SESSIONS: Mutex<BTreeMap<i64, Arc<Session>>> = Mutex::new(BTreeMap::new());
static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

fn table() -> MutexGuard<'static, BTreeMap<i64, Arc<Session>>> {
    // The table is only inserted into and removed from, never left half-changed: a poisoned lock is still sound.
    SESSIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers a session and returns its new handle (never 0, never reused).
pub(crate) fn insert(session: Session) -> i64 {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    table().insert(handle, Arc::new(session));
    handle
}

/// The session of `handle`, or [`BridgeError::Closed`].
pub(crate) fn get(handle: i64) -> Result<Arc<Session>> {
    table().get(&handle).cloned().ok_or(BridgeError::Closed)
}

/// Forgets `handle`; a no-op if it is already closed. The session itself is dropped after the calls using it.
pub(crate) fn remove(handle: i64) {
    let session = table().remove(&handle);
    // Dropped here, outside the table lock: dropping a vault closes files.
    drop(session);
}
