//! Native handles: one [`Session`] (the engine with its models loaded once, and the driver's vault) per `open`.
//!
//! Java holds a `long` handle, never a pointer. Handles index a process-wide table and are never reused, so a
//! handle that was closed (once or twice), or a made-up number, finds nothing and the call fails with
//! [`BridgeError::Closed`]; nothing is ever freed while in use. A call clones the session's `Arc` out of the table
//! and works on it without holding the table lock; `close` removes the entry, and the session (and its vault lock)
//! is dropped when the last call using it returns. Calls on one session are serialised by its mutex, which is all
//! the vault needs; calls on different sessions run in parallel.

use crate::error::{BridgeError, Result};
use facecheck::{Clock, Engine, Kek, Vault};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One open engine and its vault.
pub(crate) struct Session {
    /// The models, checked, parsed and optimised once.
    pub(crate) engine: Engine,
    /// Where the driver's vault is, or will be created by enrollment.
    pub(crate) path: PathBuf,
    /// The key the vault is sealed with (wiped when the session is dropped).
    pub(crate) kek: Kek,
    /// The vault, behind the lock that serialises the calls on this session: `Some` while it is open (its file
    /// lock held), `None` while there is no vault at `path` (before the first enrollment) or while an enrollment
    /// replaces it.
    pub(crate) vault: Mutex<Option<Vault>>,
}

impl Session {
    /// The vault slot, locked for the duration of one call.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Option<Vault>>> {
        self.vault.lock().map_err(|_: PoisonError<_>| BridgeError::Poisoned)
    }

    /// The open vault, opening it first if the slot is empty; [`facecheck::Error::VaultMissing`] (`not_enrolled`)
    /// when there is no vault at the path.
    pub(crate) fn open_vault<'s>(&self, slot: &'s mut Option<Vault>, now: Clock) -> Result<&'s mut Vault> {
        if slot.is_none() {
            *slot = Some(Vault::open(&self.path, &self.kek, now)?);
        }
        slot.as_mut().ok_or(BridgeError::Core(facecheck::Error::VaultMissing))
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
