//! The on-device enrollment vault: one driver's template, the device signing key, the check-in counter and the
//! lock-out state, sealed with AES-256-GCM in one file.
//!
//! # Contract
//! - **Nothing biometric comes out.** No method returns a template or an embedding; the only thing derived from the
//!   template is a distance to a probe, and that method is `pub(crate)` so that only the core's check-in policy can
//!   use it. `Debug` and error texts carry no ids, keys or template data.
//! - **Fail closed, lose nothing.** Every write replaces the file atomically (temp file, fsync, rename, fsync of the
//!   directory); a crash at any point leaves the old or the new vault. A vault that does not parse, does not
//!   decrypt or has an unknown version is reported with its own [`Error`] variant and never overwritten, and
//!   [`Vault::create`] refuses to replace an existing vault.
//! - **The counter is durable before it is used.** [`Vault::next_counter`] returns a value only once the vault
//!   holding it is on disk, so no value is handed out twice, even across crashes (values may be skipped).
//! - **Time is an argument.** Every operation that depends on time takes `now`, a [`Clock`] reading of the wall
//!   clock (unix seconds) and, where the platform has one, of the monotonic clock since boot; there is no hidden
//!   clock. Retention counts wall-clock days; a lock-out is served in time that no change of the wall clock
//!   shortens ([`Clock::progress_since`]).
//! - **Retention.** The template is wiped, and the file rewritten as not enrolled, once
//!   [`retention_days`](Vault::retention_days) have passed since the later of the enrollment and the last successful
//!   check-in; this is checked by [`Vault::open`] and by every operation that takes `now`.
//! - **Erasure is final.** A vault without a template is an erasure that has begun (on request, or by the retention
//!   rule) and is finished by the check-in policy's `erase`: it signs the receipt with the device key, then
//!   [`destroy`](Vault::destroy)s the file, the device key's only copy. The caller then deletes the key-encryption
//!   key, so that no earlier copy of the file (a backup, a block the flash storage kept) opens with anything it
//!   still holds. Nothing puts a template back into a vault: a new enrollment makes a new vault, under a new key,
//!   with a new device key.
//! - **One handle at a time.** A vault is opened with an exclusive lock on a `<vault>.lock` file next to it
//!   (`flock(2)`, on Linux and Android alike, and a table of the vaults this process holds), so two handles, in one
//!   process or two, cannot advance the same counter: the second gets [`Error::VaultBusy`]. Where no lock can be
//!   taken, the vault does not open.
//!
//! # Where things are
//! The vault is one folder, a file per concept (`crates/facecheck/src/device/vault/`):
//! - `format.rs`: the versioned file format below (header, sealed contents, bounds), bytes only;
//! - `seal.rs`: the key-encryption key ([`Kek`]), AES-256-GCM, PBKDF2;
//! - `store.rs`: the file on disk (atomic writes and their crash steps, the lock, deletion);
//! - `lockout.rs`: the lock-out rule (failures since the last match; from the [`SHORT_LOCKOUT_FAILURES`]th, each
//!   locks check-in, longer from the [`LONG_LOCKOUT_FAILURES`]th, and the [`FINAL_LOCKOUT_FAILURES`]th until a new
//!   enrollment);
//! - `retention.rs`: when an unused template is wiped;
//! - `mod.rs`: [`Vault`], which applies those rules to its state and writes every change through the other
//!   modules, so the state on disk and in memory move together; `tests/` has one test file per module.
//!
//! # File format (version 2)
//! All integers are little-endian. Version 1 files are still read, and rewritten as version 2 when opened (see
//! "Version 1" below).
//!
//! | offset     | size | field                                                                          |
//! |------------|------|--------------------------------------------------------------------------------|
//! | 0          | 8    | magic `b"FCVAULT\0"`                                                           |
//! | 8          | 2    | format version, `2` (or `1`, read only)                                        |
//! | 10         | 2    | driver id length `n`, `1..=256`                                                |
//! | 12         | n    | driver id, UTF-8                                                               |
//! | 12+n       | 1    | key derivation: `0` raw 32-byte key, `1` PBKDF2-HMAC-SHA256 (600 000 rounds)   |
//! | 13+n       | s    | salt: 16 bytes if the key derivation is `1`, absent (`s = 0`) otherwise        |
//! | 13+n+s     | 12   | AES-GCM nonce, random for every write                                          |
//! | 25+n+s     | 4    | sealed length `c`: ciphertext and 16-byte tag, `17..=65536`, to the end of file |
//! | 29+n+s     | c    | AES-256-GCM ciphertext of the contents, then the tag                           |
//!
//! The additional authenticated data is the whole header, bytes `0..29+n+s` (magic, version, driver id, key
//! derivation and salt, nonce, sealed length), so none of it can be changed without the tag failing.
//!
//! The sealed contents (version 2):
//!
//! | size      | field                                                                               |
//! |-----------|-------------------------------------------------------------------------------------|
//! | 2 + f     | fleet id: length `f` (`1..=256`), UTF-8 bytes                                       |
//! | 2 + k     | device signing key: length `k` (`1..=1024`), PKCS#8 bytes                           |
//! | 8         | check-in counter (last value handed out; 0 before the first)                       |
//! | 4         | retention period in days, `1..=1095`                                                |
//! | 9         | enrolled at: flag (`0` none, `1` some), unix seconds (0 when none)                 |
//! | 9         | last successful check-in at: flag, unix seconds                                     |
//! | 4         | failed attempts since the last match                                                |
//! | 1         | lock-out: `0` none, `1` timed, `2` until a new enrollment                           |
//! | 8         | timed lock-out: its length in seconds (0 otherwise)                                 |
//! | 8         | timed lock-out: seconds served, below the length (0 otherwise)                      |
//! | 8         | timed lock-out: the wall clock (unix seconds) up to which it was served (0 otherwise) |
//! | 9         | timed lock-out: the monotonic clock then: flag, seconds since boot (0 otherwise)    |
//! | 1 + 512·t | templates: count `t` (`0..=16`), 128 `f32` each; `t > 0` exactly when enrolled      |
//!
//! **Version 1** has the same header (version `1`) and the same contents up to the last successful check-in, then
//! "locked out until" (flag, unix seconds), the recent failed attempts (a count `0..=5`, then unix seconds each)
//! and the templates. Opening one migrates it: the recent failures count as failures since the last match, a
//! lock-out still running becomes a timed one with the wall-clock time it had left (and the five failures that
//! started it, which version 1 had cleared), and the file is rewritten as version 2 at once.
//!
//! The plaintext buffer lives in [`Zeroizing`] memory that is allocated once at its final size, so no stray copy
//! is left behind by a reallocation.

mod format;
mod lockout;
mod retention;
mod seal;
mod store;
#[cfg(test)]
mod tests;

use crate::device::clock::Clock;
use crate::pipeline::embed::Embedding;
use crate::{Error, Result};
use format::{Kdf, State};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use store::WriteStep;
use zeroize::Zeroizing;

pub use format::{FORMAT_VERSION, FORMAT_VERSION_1, MAGIC, MAX_ID_LEN, MAX_SIGNING_KEY_LEN, MAX_TEMPLATES, SALT_LEN};
pub use lockout::{
    LockOut, FINAL_LOCKOUT_FAILURES, LONG_LOCKOUT_FAILURES, LONG_LOCKOUT_SECS, SHORT_LOCKOUT_FAILURES,
    SHORT_LOCKOUT_SECS,
};
pub use retention::{DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS};
pub use seal::{Kek, KEK_LEN, PBKDF2_ITERATIONS};

/// Everything a new vault starts with; see [`Vault::create`].
pub struct VaultInit {
    /// The fleet's opaque driver id, `1..=256` bytes. Stored in the clear in the header (and authenticated).
    pub driver_id: String,
    /// The fleet id, `1..=256` bytes.
    pub fleet_id: String,
    /// The device signing key: PKCS#8 bytes of an Ed25519 key as `facecheck_attest::DeviceKey::generate` makes
    /// them, `1..=1024` bytes, opaque to the vault.
    pub signing_key_pkcs8: Zeroizing<Vec<u8>>,
    /// The enrollment templates, `1..=16` unit embeddings.
    pub templates: Vec<Embedding>,
}

/// What an erasure receipt states, returned by [`Vault::erase`]. It holds no biometric data and no key: the receipt
/// is signed with the vault's device key before the vault is destroyed.
pub struct ErasureTicket {
    /// The driver id of the vault.
    pub driver_id: String,
    /// The fleet id of the vault.
    pub fleet_id: String,
    /// The counter value reserved for the receipt; already durable, never handed out again.
    pub counter: u64,
    /// The time of the erasure, unix seconds (the wall clock of the `now` passed to [`Vault::erase`]).
    pub erased_at: u64,
}

impl fmt::Debug for ErasureTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErasureTicket")
            .field("counter", &self.counter)
            .field("erased_at", &self.erased_at)
            .finish_non_exhaustive()
    }
}

/// An open vault: the decrypted state of one driver, and the handle that keeps other processes out.
///
/// Every mutating method writes the whole vault atomically before it returns, and changes the in-memory state only
/// once that write succeeded.
pub struct Vault {
    path: PathBuf,
    kek: Kek,
    kdf: Kdf,
    driver_id: String,
    state: State,
    _lock: store::VaultLock,
    crash_before: Option<WriteStep>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("enrolled", &self.is_enrolled())
            .field("counter", &self.state.counter)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates a new vault at `path`, enrolled at `now` with `init.templates`, counter 0 and the default retention.
    ///
    /// Fails with [`Error::VaultExists`] if anything already exists at `path` (it is left untouched), and with
    /// [`Error::VaultInvalidInput`] if an id, the key or the templates are out of range. A `kek` from
    /// [`Kek::from_passphrase`] records its salt in the header.
    pub fn create(path: impl AsRef<Path>, kek: &Kek, init: VaultInit, now: Clock) -> Result<Vault> {
        Vault::create_inner(path.as_ref(), kek, init, now, None)
    }

    fn create_inner(
        path: &Path,
        kek: &Kek,
        init: VaultInit,
        now: Clock,
        crash_before: Option<WriteStep>,
    ) -> Result<Vault> {
        format::check_id(&init.driver_id, "driver id must be 1 to 256 bytes")?;
        format::check_id(&init.fleet_id, "fleet id must be 1 to 256 bytes")?;
        format::check_signing_key(&init.signing_key_pkcs8)?;
        format::check_templates(&init.templates)?;
        let lock = store::lock_vault(path)?;
        match fs::symlink_metadata(path) {
            Ok(_) => return Err(Error::VaultExists),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::VaultIo { op: "inspect the vault path", source }),
        }
        let state = State {
            fleet_id: init.fleet_id,
            signing_key: init.signing_key_pkcs8,
            counter: 0,
            retention_days: DEFAULT_RETENTION_DAYS,
            enrolled_at: Some(now.wall),
            last_checkin_at: None,
            lock_out: lockout::LockOutState::default(),
            templates: init.templates,
        };
        let vault = Vault {
            path: path.to_path_buf(),
            kdf: kek.kdf(),
            kek: kek.duplicate(),
            driver_id: init.driver_id,
            state,
            _lock: lock,
            crash_before,
        };
        vault.write(&vault.state)?;
        Ok(vault)
    }

    /// Opens the vault at `path` with `kek`, then applies the time passed up to `now`: the retention rule (which may
    /// wipe the template and rewrite the file as not enrolled) and the lock-out's time served (written with the
    /// vault). A version-1 vault is migrated and rewritten as version 2. A stale temp file left by an interrupted
    /// write is removed.
    ///
    /// Errors: [`Error::VaultMissing`], [`Error::VaultBusy`], [`Error::VaultCorrupt`] (not a vault, truncated,
    /// malformed), [`Error::VaultUnsupportedVersion`], [`Error::VaultUnreadable`] (wrong key or tampered),
    /// [`Error::VaultIo`]. The file is never modified when opening fails.
    pub fn open(path: impl AsRef<Path>, kek: &Kek, now: Clock) -> Result<Vault> {
        let path = path.as_ref();
        match fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::VaultMissing),
            Err(source) => return Err(Error::VaultIo { op: "inspect the vault path", source }),
        }
        let lock = store::lock_vault(path)?;
        store::remove_stale_temp(&store::temp_path(path))?;
        let bytes = store::read_vault_file(path)?;
        let sealed = format::parse_file(&bytes)?;
        let (mut state, v1_lock_out) = seal::unseal(kek, &sealed)?;
        if let Some(v1) = v1_lock_out {
            state.lock_out = v1.migrate(now);
        }
        let mut vault = Vault {
            path: path.to_path_buf(),
            kek: kek.duplicate(),
            kdf: sealed.kdf,
            driver_id: sealed.driver_id,
            state,
            _lock: lock,
            crash_before: None,
        };
        if v1_lock_out.is_some() {
            vault.write(&vault.state)?;
            log::info!("vault: migrated to format version {FORMAT_VERSION}");
        }
        vault.apply_time(now)?;
        Ok(vault)
    }

    /// The PBKDF2 salt recorded in the header of the vault at `path`, or `None` for a vault sealed with a raw key.
    /// Reads only the header; no key is needed.
    pub fn read_salt(path: impl AsRef<Path>) -> Result<Option<[u8; SALT_LEN]>> {
        let bytes = store::read_vault_file(path.as_ref())?;
        Ok(match format::parse_file(&bytes)?.kdf {
            Kdf::Raw => None,
            Kdf::Pbkdf2 { salt } => Some(salt),
        })
    }

    /// The file this vault lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fleet's opaque driver id.
    pub fn driver_id(&self) -> &str {
        &self.driver_id
    }

    /// The fleet id.
    pub fn fleet_id(&self) -> &str {
        &self.state.fleet_id
    }

    /// The device signing key (PKCS#8). A secret, not biometric data: never log it.
    pub fn signing_key_pkcs8(&self) -> &[u8] {
        &self.state.signing_key
    }

    /// The last counter value handed out (0 if none yet).
    pub fn counter(&self) -> u64 {
        self.state.counter
    }

    /// Whether a template is enrolled.
    pub fn is_enrolled(&self) -> bool {
        !self.state.templates.is_empty()
    }

    /// How many templates are enrolled (0 when not enrolled).
    pub fn template_count(&self) -> usize {
        self.state.templates.len()
    }

    /// When the current template was enrolled, unix seconds.
    pub fn enrolled_at(&self) -> Option<u64> {
        self.state.enrolled_at
    }

    /// When the last successful check-in was recorded, unix seconds (since the current enrollment).
    pub fn last_checkin_at(&self) -> Option<u64> {
        self.state.last_checkin_at
    }

    /// The retention period in days.
    pub fn retention_days(&self) -> u32 {
        self.state.retention_days
    }

    /// The time from which the template is wiped if no check-in happens before, unix seconds; `None` when not
    /// enrolled.
    pub fn retention_deadline(&self) -> Option<u64> {
        self.state.retention_deadline()
    }

    /// The lock-out in force at `now`, if check-in is locked out.
    pub fn lock_out(&self, now: Clock) -> Option<LockOut> {
        self.state.lock_out.active(now)
    }

    /// The failed attempts recorded by [`record_failure`](Vault::record_failure) since the last match.
    pub fn failures(&self) -> u32 {
        self.state.lock_out.failures
    }

    /// Sets the retention period to `days` (`1..=1095`) and applies it at `now` (a shorter period may wipe the
    /// template at once). Longer or zero periods are refused with [`Error::VaultRetention`].
    pub fn set_retention_days(&mut self, days: u32, now: Clock) -> Result<()> {
        if !retention::allows(days) {
            return Err(Error::VaultRetention { days, max: MAX_RETENTION_DAYS });
        }
        self.update_at(now, |state| {
            state.retention_days = days;
            state.expire(now.wall);
            Ok(())
        })
    }

    /// Advances the check-in counter and returns the new value once the vault holding it is durable on disk.
    ///
    /// A value is returned at most once, even across crashes: if this fails, the value is never returned (and may
    /// be skipped later), so the caller signs only with values this returned.
    pub fn next_counter(&mut self) -> Result<u64> {
        self.update(|state| state.advance_counter())?;
        Ok(self.state.counter)
    }

    /// Records a failed check-in attempt at `now` and returns the lock-out it starts, if any (see `lockout.rs` for
    /// the schedule). While locked out, attempts are not recorded (the policy refuses them) and the lock-out in
    /// force is returned unchanged.
    pub fn record_failure(&mut self, now: Clock) -> Result<Option<LockOut>> {
        if let Some(lock_out) = self.lock_out(now) {
            self.apply_time(now)?;
            return Ok(Some(lock_out));
        }
        self.update_at(now, |state| {
            state.lock_out.record_failure(now);
            Ok(())
        })?;
        Ok(self.lock_out(now))
    }

    /// Records a successful check-in at `now`: the failed attempts no longer count, and the retention period
    /// restarts. Fails with [`Error::VaultNotEnrolled`] if no template is enrolled (also after the retention
    /// period), and with [`Error::VaultLockedOut`] while a lock-out is in force (a locked-out attempt compares
    /// nothing, so it cannot have matched).
    pub fn record_success(&mut self, now: Clock) -> Result<()> {
        self.update_at(now, |state| {
            if state.templates.is_empty() {
                return Err(Error::VaultNotEnrolled);
            }
            if state.lock_out.active(now).is_some() {
                return Err(Error::VaultLockedOut);
            }
            state.lock_out.record_success();
            state.last_checkin_at = Some(now.wall);
            Ok(())
        })
    }

    /// Begins an erasure at `now`: the vault is rewritten without templates and enrollment times, and a counter
    /// value is reserved for the erasure receipt, both in the same durable write. Returns what the receipt states.
    /// The device key stays until the receipt is signed; then [`destroy`](Vault::destroy) ends the erasure (the
    /// check-in policy's `erase` does both). A vault left without a template (a crash in between, or the retention
    /// rule) is erased again the same way.
    pub fn erase(&mut self, now: Clock) -> Result<ErasureTicket> {
        self.update(|state| {
            state.advance_counter()?;
            state.wipe_template();
            Ok(())
        })?;
        log::info!("vault: template erased on request");
        Ok(ErasureTicket {
            driver_id: self.driver_id.clone(),
            fleet_id: self.state.fleet_id.clone(),
            counter: self.state.counter,
            erased_at: now.wall,
        })
    }

    /// Deletes the vault file, and with it the device key (after [`erase`](Vault::erase) and signing the receipt):
    /// its bytes are overwritten with zeros and synced, then the file is removed and the directory synced.
    ///
    /// Overwriting is best effort on flash storage, which may keep old blocks; the ciphertext stays unreadable
    /// without the key-encryption key, which is why the platform deletes that key next.
    pub fn destroy(self) -> Result<()> {
        store::destroy(&self.path)
    }

    /// The smallest distance between `probe` and the enrolled templates, after applying the retention rule at
    /// `now`; [`Error::VaultNotEnrolled`] if none is enrolled.
    ///
    /// Taking the best of `t` templates raises the false match rate of a pair threshold by up to `t` times; the
    /// check-in policy picks between this and [`mean_distance`](Vault::mean_distance) with that in mind.
    #[allow(dead_code)] // Used by the check-in policy.
    pub(crate) fn best_distance(&mut self, probe: &Embedding, now: Clock) -> Result<f32> {
        self.apply_time(now)?;
        self.state
            .templates
            .iter()
            .map(|template| template.distance(probe))
            .min_by(f32::total_cmp)
            .ok_or(Error::VaultNotEnrolled)
    }

    /// The distance between `probe` and the normalised mean of the enrolled templates, after applying the retention
    /// rule at `now`; [`Error::VaultNotEnrolled`] if none is enrolled.
    #[allow(dead_code)] // Used by the check-in policy.
    pub(crate) fn mean_distance(&mut self, probe: &Embedding, now: Clock) -> Result<f32> {
        self.apply_time(now)?;
        let mean = Embedding::mean(&self.state.templates).ok_or(Error::VaultNotEnrolled)?;
        Ok(mean.distance(probe))
    }

    /// Applies the time passed up to `now` and persists it: wipes the template if the retention period has passed,
    /// adds the time served to a lock-out.
    fn apply_time(&mut self, now: Clock) -> Result<()> {
        self.update_at(now, |_| Ok(()))
    }

    /// Like [`update`](Vault::update), with the time passed up to `now` applied first ([`apply_time`]), in the
    /// same write. If `change` refuses, the time passed is still written.
    ///
    /// [`apply_time`]: Vault::apply_time
    fn update_at(&mut self, now: Clock, change: impl FnOnce(&mut State) -> Result<()>) -> Result<()> {
        let mut caught_up = self.state.clone();
        caught_up.expire(now.wall);
        caught_up.lock_out.serve(now);
        let mut next = caught_up.clone();
        match change(&mut next) {
            Ok(()) => self.commit(next),
            Err(e) => {
                self.commit(caught_up)?;
                Err(e)
            }
        }
    }

    /// Applies `change` to a copy of the state, writes the copy, and only then makes it the state.
    fn update(&mut self, change: impl FnOnce(&mut State) -> Result<()>) -> Result<()> {
        let mut next = self.state.clone();
        change(&mut next)?;
        self.commit(next)
    }

    /// Writes `next` unless it equals the state, then makes it the state.
    fn commit(&mut self, next: State) -> Result<()> {
        if next.encode()[..] == self.state.encode()[..] {
            return Ok(());
        }
        self.write(&next)?;
        self.state = next;
        Ok(())
    }

    /// Seals `state` and replaces the vault file with it atomically.
    fn write(&self, state: &State) -> Result<()> {
        let file = seal::seal(&self.kek, self.kdf, &self.driver_id, state)?;
        store::write_atomic(&self.path, &file, self.crash_before)
    }
}

/// The changes the vault makes to its state; the rules are in [`retention`], the encoding in [`format`].
impl State {
    fn retention_deadline(&self) -> Option<u64> {
        let enrolled_at = self.enrolled_at.filter(|_| !self.templates.is_empty());
        retention::deadline(self.retention_days, enrolled_at, self.last_checkin_at)
    }

    fn is_expired(&self, now: u64) -> bool {
        retention::is_due(self.retention_deadline(), now)
    }

    fn expire(&mut self, now: u64) {
        if self.is_expired(now) {
            self.wipe_template();
            log::info!("vault: template wiped after the retention period");
        }
    }

    fn wipe_template(&mut self) {
        // Each embedding zeroizes itself on drop.
        self.templates.clear();
        self.enrolled_at = None;
        self.last_checkin_at = None;
    }

    fn advance_counter(&mut self) -> Result<()> {
        self.counter =
            self.counter.checked_add(1).ok_or(Error::VaultInvalidInput("the check-in counter is exhausted"))?;
        Ok(())
    }
}
