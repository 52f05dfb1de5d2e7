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
//! - **Time is an argument.** Every operation that depends on time takes `now` in unix seconds; there is no hidden
//!   clock.
//! - **Retention.** The template is wiped, and the file rewritten as not enrolled, once
//!   [`retention_days`](Vault::retention_days) have passed since the later of the enrollment and the last successful
//!   check-in; this is checked by [`Vault::open`] and by every operation that takes `now`.
//! - **One handle at a time.** A vault is opened with an exclusive lock on a `<vault>.lock` file next to it, so two
//!   processes cannot advance the same counter. Where the standard library has no file locks (Android before Rust
//!   1.98) the lock is skipped: the app's private storage has a single process, which must keep a single handle.
//!
//! # File format (version 1)
//! All integers are little-endian.
//!
//! | offset     | size | field                                                                          |
//! |------------|------|--------------------------------------------------------------------------------|
//! | 0          | 8    | magic `b"FCVAULT\0"`                                                           |
//! | 8          | 2    | format version, `1`                                                            |
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
//! The sealed contents (version 1):
//!
//! | size      | field                                                                               |
//! |-----------|-------------------------------------------------------------------------------------|
//! | 2 + f     | fleet id: length `f` (`1..=256`), UTF-8 bytes                                       |
//! | 2 + k     | device signing key: length `k` (`1..=1024`), PKCS#8 bytes                           |
//! | 8         | check-in counter (last value handed out; 0 before the first)                       |
//! | 4         | retention period in days, `1..=1095`                                                |
//! | 9         | enrolled at: flag (`0` none, `1` some), unix seconds (0 when none)                 |
//! | 9         | last successful check-in at: flag, unix seconds                                     |
//! | 9         | locked out until: flag, unix seconds                                                |
//! | 1 + 8·a   | recent failed attempts: count `a` (`0..=5`), unix seconds each                      |
//! | 1 + 512·t | templates: count `t` (`0..=16`), 128 `f32` each; `t > 0` exactly when enrolled      |
//!
//! The plaintext buffer lives in [`Zeroizing`] memory that is allocated once at its final size, so no stray copy
//! is left behind by a reallocation.

use crate::pipeline::embed::{Embedding, EMBEDDING_LEN};
use crate::{Error, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The first eight bytes of every vault file.
pub const MAGIC: [u8; 8] = *b"FCVAULT\0";
/// The file format version this library writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Length of a key-encryption key, in bytes (AES-256).
pub const KEK_LEN: usize = 32;
/// Length of the PBKDF2 salt, in bytes.
pub const SALT_LEN: usize = 16;
/// PBKDF2-HMAC-SHA256 rounds for [`Kek::from_passphrase`] (the OWASP 2023 recommendation for this PRF).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Retention period of a new vault, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// Longest retention period accepted, in days (three years).
pub const MAX_RETENTION_DAYS: u32 = 3 * 365;
/// Failed attempts older than this many seconds no longer count towards a lock-out.
pub const LOCKOUT_WINDOW_SECS: u64 = 3 * 60;
/// This many failed attempts within [`LOCKOUT_WINDOW_SECS`] lock the vault out.
pub const LOCKOUT_FAILURES: usize = 5;
/// Length of a lock-out, in seconds.
pub const LOCKOUT_SECS: u64 = 30 * 60;
/// Most templates one vault holds.
pub const MAX_TEMPLATES: usize = 16;
/// Longest driver or fleet id, in bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest device signing key, in bytes.
pub const MAX_SIGNING_KEY_LEN: usize = 1024;

const PBKDF2_ROUNDS: NonZeroU32 = NonZeroU32::new(PBKDF2_ITERATIONS).expect("the round count is a nonzero constant");
const TAG_LEN: usize = 16;
const SECS_PER_DAY: u64 = 86_400;
const TEMPLATE_BYTES: usize = EMBEDDING_LEN * 4;
const MAX_SEALED_LEN: usize = 1 << 16;
const MAX_HEADER_LEN: usize = 8 + 2 + 2 + MAX_ID_LEN + 1 + SALT_LEN + NONCE_LEN + 4;
const MAX_FILE_LEN: usize = MAX_HEADER_LEN + MAX_SEALED_LEN;
const KDF_RAW: u8 = 0;
const KDF_PBKDF2: u8 = 1;

/// How the key-encryption key was obtained; recorded in the header so that a passphrase vault can be reopened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kdf {
    Raw,
    Pbkdf2 { salt: [u8; SALT_LEN] },
}

/// The 32-byte key-encryption key (KEK) that seals the vault.
///
/// The platform supplies it: on Android a key unwrapped by the Keystore, on desktops a key file
/// ([`Kek::generate`] then [`Kek::secret_bytes`] to write it) or a passphrase ([`Kek::from_passphrase`]). The bytes
/// live on the heap, are never copied by moves, and are wiped when the `Kek` is dropped. `Debug` shows nothing.
///
/// [`Vault::create`] and [`Vault::open`] borrow it and keep their own copy (on the heap, wiped on drop as well) for
/// as long as the vault is open, so the caller keeps its key whether the call succeeds or fails.
pub struct Kek {
    key: Box<Zeroizing<[u8; KEK_LEN]>>,
    kdf: Kdf,
}

impl Kek {
    /// A key from its 32 raw bytes (for example a Keystore-unwrapped key, or a key file's contents).
    pub fn from_bytes(bytes: &[u8; KEK_LEN]) -> Kek {
        let mut key = Box::new(Zeroizing::new([0u8; KEK_LEN]));
        key.copy_from_slice(bytes);
        Kek { key, kdf: Kdf::Raw }
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Kek> {
        let mut key = Box::new(Zeroizing::new([0u8; KEK_LEN]));
        SystemRandom::new().fill(&mut key[..]).map_err(|_| Error::VaultCrypto("the random number generator failed"))?;
        Ok(Kek { key, kdf: Kdf::Raw })
    }

    /// A key derived from a passphrase with PBKDF2-HMAC-SHA256, [`PBKDF2_ITERATIONS`] rounds, and `salt`.
    ///
    /// Use a fresh [`Kek::generate_salt`] for a new vault; the salt is stored in the vault header and read back
    /// with [`Vault::read_salt`] before reopening. (This is deliberately slow: a fraction of a second.)
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8; SALT_LEN]) -> Kek {
        let mut key = Box::new(Zeroizing::new([0u8; KEK_LEN]));
        ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, PBKDF2_ROUNDS, salt, passphrase, &mut key[..]);
        Kek { key, kdf: Kdf::Pbkdf2 { salt: *salt } }
    }

    /// A new random salt for [`Kek::from_passphrase`].
    pub fn generate_salt() -> Result<[u8; SALT_LEN]> {
        let mut salt = [0u8; SALT_LEN];
        SystemRandom::new().fill(&mut salt).map_err(|_| Error::VaultCrypto("the random number generator failed"))?;
        Ok(salt)
    }

    /// The raw key, for the platform to store it (key file, Keystore wrapping). It is a secret: never log it.
    pub fn secret_bytes(&self) -> &[u8; KEK_LEN] {
        &self.key
    }

    /// A copy for a vault to keep: a new heap allocation, wiped on drop like this one.
    fn duplicate(&self) -> Kek {
        let mut key = Box::new(Zeroizing::new([0u8; KEK_LEN]));
        key.copy_from_slice(&self.key[..]);
        Kek { key, kdf: self.kdf }
    }

    fn aead_key(&self) -> Result<LessSafeKey> {
        let unbound = UnboundKey::new(&AES_256_GCM, &self.key[..])
            .map_err(|_| Error::VaultCrypto("cannot build the AES-256-GCM key"))?;
        Ok(LessSafeKey::new(unbound))
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(..)")
    }
}

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

/// What the caller needs to sign an erasure receipt, returned by [`Vault::erase`]. It holds no biometric data.
pub struct ErasureTicket {
    /// The driver id of the vault.
    pub driver_id: String,
    /// The fleet id of the vault.
    pub fleet_id: String,
    /// The counter value reserved for the receipt; already durable, never handed out again.
    pub counter: u64,
    /// The time of the erasure, unix seconds (the `now` passed to [`Vault::erase`]).
    pub erased_at: u64,
    /// The device signing key (PKCS#8), to sign the receipt with; wiped when dropped.
    pub signing_key_pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ErasureTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErasureTicket")
            .field("counter", &self.counter)
            .field("erased_at", &self.erased_at)
            .finish_non_exhaustive()
    }
}

/// The sealed contents.
#[derive(Clone)]
struct State {
    fleet_id: String,
    signing_key: Zeroizing<Vec<u8>>,
    counter: u64,
    retention_days: u32,
    enrolled_at: Option<u64>,
    last_checkin_at: Option<u64>,
    locked_until: Option<u64>,
    failures: Vec<u64>,
    templates: Vec<Embedding>,
}

/// The steps of an atomic write, in order. Tests stop a write just before any of them to simulate a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteStep {
    CreateTemp,
    WriteTemp,
    SyncTemp,
    Rename,
    SyncDir,
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
    _lock: Option<File>,
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
    pub fn create(path: impl AsRef<Path>, kek: &Kek, init: VaultInit, now: u64) -> Result<Vault> {
        Vault::create_inner(path.as_ref(), kek, init, now, None)
    }

    fn create_inner(
        path: &Path,
        kek: &Kek,
        init: VaultInit,
        now: u64,
        crash_before: Option<WriteStep>,
    ) -> Result<Vault> {
        check_id(&init.driver_id, "driver id must be 1 to 256 bytes")?;
        check_id(&init.fleet_id, "fleet id must be 1 to 256 bytes")?;
        check_signing_key(&init.signing_key_pkcs8)?;
        check_templates(&init.templates)?;
        let lock = lock_vault(path)?;
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
            enrolled_at: Some(now),
            last_checkin_at: None,
            locked_until: None,
            failures: Vec::new(),
            templates: init.templates,
        };
        let vault = Vault {
            path: path.to_path_buf(),
            kdf: kek.kdf,
            kek: kek.duplicate(),
            driver_id: init.driver_id,
            state,
            _lock: lock,
            crash_before,
        };
        vault.write(&vault.state)?;
        Ok(vault)
    }

    /// Opens the vault at `path` with `kek`, then applies the retention rule at `now` (which may wipe the template
    /// and rewrite the file as not enrolled). A stale temp file left by an interrupted write is removed.
    ///
    /// Errors: [`Error::VaultMissing`], [`Error::VaultBusy`], [`Error::VaultCorrupt`] (not a vault, truncated,
    /// malformed), [`Error::VaultUnsupportedVersion`], [`Error::VaultUnreadable`] (wrong key or tampered),
    /// [`Error::VaultIo`]. The file is never modified when opening fails.
    pub fn open(path: impl AsRef<Path>, kek: &Kek, now: u64) -> Result<Vault> {
        let path = path.as_ref();
        match fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::VaultMissing),
            Err(source) => return Err(Error::VaultIo { op: "inspect the vault path", source }),
        }
        let lock = lock_vault(path)?;
        remove_stale_temp(&temp_path(path))?;
        let bytes = read_vault_file(path)?;
        let sealed = parse_file(&bytes)?;
        let state = unseal(kek, &sealed)?;
        let mut vault = Vault {
            path: path.to_path_buf(),
            kek: kek.duplicate(),
            kdf: sealed.kdf,
            driver_id: sealed.driver_id,
            state,
            _lock: lock,
            crash_before: None,
        };
        vault.apply_retention(now)?;
        Ok(vault)
    }

    /// The PBKDF2 salt recorded in the header of the vault at `path`, or `None` for a vault sealed with a raw key.
    /// Reads only the header; no key is needed.
    pub fn read_salt(path: impl AsRef<Path>) -> Result<Option<[u8; SALT_LEN]>> {
        let bytes = read_vault_file(path.as_ref())?;
        Ok(match parse_file(&bytes)?.kdf {
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

    /// The end of the current lock-out if the vault is locked out at `now`, unix seconds.
    pub fn locked_until(&self, now: u64) -> Option<u64> {
        self.state.locked_until.filter(|&until| now < until)
    }

    /// How many failed attempts recorded by [`record_failure`](Vault::record_failure) still count towards a
    /// lock-out at `now` (those at most [`LOCKOUT_WINDOW_SECS`] old); `0..LOCKOUT_FAILURES`.
    pub fn recent_failures(&self, now: u64) -> usize {
        self.state.failures.iter().filter(|&&t| now.saturating_sub(t) <= LOCKOUT_WINDOW_SECS).count()
    }

    /// Sets the retention period to `days` (`1..=1095`) and applies it at `now` (a shorter period may wipe the
    /// template at once). Longer or zero periods are refused with [`Error::VaultRetention`].
    pub fn set_retention_days(&mut self, days: u32, now: u64) -> Result<()> {
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(Error::VaultRetention { days, max: MAX_RETENTION_DAYS });
        }
        self.update_expiring(now, |state| {
            state.retention_days = days;
            state.expire(now);
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

    /// Records a failed check-in attempt at `now` and returns the end of the lock-out if the vault is now locked.
    ///
    /// Attempts older than [`LOCKOUT_WINDOW_SECS`] are pruned; the [`LOCKOUT_FAILURES`]th attempt within the window
    /// locks the vault until `now + LOCKOUT_SECS` and clears the attempts. While locked out, attempts are not
    /// recorded (the policy refuses them) and the current lock-out end is returned unchanged.
    pub fn record_failure(&mut self, now: u64) -> Result<Option<u64>> {
        if let Some(until) = self.locked_until(now) {
            self.apply_retention(now)?;
            return Ok(Some(until));
        }
        self.update_expiring(now, |state| {
            state.failures.retain(|&t| now.saturating_sub(t) <= LOCKOUT_WINDOW_SECS);
            state.failures.push(now);
            if state.failures.len() >= LOCKOUT_FAILURES {
                state.failures.clear();
                state.locked_until = Some(now.saturating_add(LOCKOUT_SECS));
            }
            Ok(())
        })?;
        Ok(self.locked_until(now))
    }

    /// Records a successful check-in at `now`: clears the failed attempts and restarts the retention period.
    /// Fails with [`Error::VaultNotEnrolled`] if no template is enrolled (also after the retention period).
    pub fn record_success(&mut self, now: u64) -> Result<()> {
        self.update_expiring(now, |state| {
            if state.templates.is_empty() {
                return Err(Error::VaultNotEnrolled);
            }
            state.failures.clear();
            state.last_checkin_at = Some(now);
            Ok(())
        })
    }

    /// Erases the template at `now`: the vault is rewritten without templates and enrollment times, and a counter
    /// value is reserved for the erasure receipt, both in the same durable write. Returns what the receipt is
    /// signed with, never the template. The device key, ids, counter and lock-out state stay, so a receipt can
    /// still be signed. There is no enrolling into an erased vault: a new enrollment replaces the vault with a new
    /// one and a new device key (`checkin::enroll`), which the fleet has to register again.
    pub fn erase(&mut self, now: u64) -> Result<ErasureTicket> {
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
            erased_at: now,
            signing_key_pkcs8: self.state.signing_key.clone(),
        })
    }

    /// Deletes the vault file (after [`erase`](Vault::erase) and signing the receipt, typically): its bytes are
    /// overwritten with zeros and synced, then the file is removed and the directory synced.
    ///
    /// Overwriting is best effort on flash storage, which may keep old blocks; the ciphertext stays unreadable
    /// without the key-encryption key, so the platform should also delete that key.
    pub fn destroy(self) -> Result<()> {
        let fail = |op: &'static str| move |source: io::Error| Error::VaultIo { op, source };
        let mut file = OpenOptions::new().write(true).open(&self.path).map_err(fail("open the vault for erasure"))?;
        let len = file.metadata().map_err(fail("read the vault size"))?.len();
        let zeros = vec![0u8; usize::try_from(len).unwrap_or(MAX_FILE_LEN).min(MAX_FILE_LEN)];
        file.write_all(&zeros).map_err(fail("overwrite the vault"))?;
        file.sync_all().map_err(fail("sync the overwritten vault"))?;
        drop(file);
        fs::remove_file(&self.path).map_err(fail("remove the vault"))?;
        sync_dir(&self.path).map_err(fail("sync the vault directory"))?;
        match fs::remove_file(lock_path(&self.path)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::VaultIo { op: "remove the lock file", source }),
        }
    }

    /// The smallest distance between `probe` and the enrolled templates, after applying the retention rule at
    /// `now`; [`Error::VaultNotEnrolled`] if none is enrolled.
    ///
    /// Taking the best of `t` templates raises the false match rate of a pair threshold by up to `t` times; the
    /// check-in policy picks between this and [`mean_distance`](Vault::mean_distance) with that in mind.
    #[allow(dead_code)] // Used by the check-in policy.
    pub(crate) fn best_distance(&mut self, probe: &Embedding, now: u64) -> Result<f32> {
        self.apply_retention(now)?;
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
    pub(crate) fn mean_distance(&mut self, probe: &Embedding, now: u64) -> Result<f32> {
        self.apply_retention(now)?;
        let mean = Embedding::mean(&self.state.templates).ok_or(Error::VaultNotEnrolled)?;
        Ok(mean.distance(probe))
    }

    /// Wipes the template if the retention period has passed at `now`, and persists that.
    fn apply_retention(&mut self, now: u64) -> Result<()> {
        self.update_expiring(now, |_| Ok(()))
    }

    /// Like [`update`](Vault::update), with the retention rule applied first, in the same write. If `change`
    /// refuses, a due wipe is still written.
    fn update_expiring(&mut self, now: u64, change: impl FnOnce(&mut State) -> Result<()>) -> Result<()> {
        let mut expired = self.state.clone();
        expired.expire(now);
        let mut next = expired.clone();
        match change(&mut next) {
            Ok(()) => self.commit(next),
            Err(e) => {
                self.commit(expired)?;
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
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| Error::VaultCrypto("the random number generator failed"))?;
        let mut sealed = state.encode();
        let sealed_len = sealed.len() + TAG_LEN;
        if sealed_len > MAX_SEALED_LEN {
            return Err(Error::VaultInvalidInput("the vault contents are too large"));
        }
        let mut file = Vec::with_capacity(MAX_HEADER_LEN + sealed_len);
        file.extend_from_slice(&MAGIC);
        file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        file.extend_from_slice(&(self.driver_id.len() as u16).to_le_bytes());
        file.extend_from_slice(self.driver_id.as_bytes());
        match self.kdf {
            Kdf::Raw => file.push(KDF_RAW),
            Kdf::Pbkdf2 { salt } => {
                file.push(KDF_PBKDF2);
                file.extend_from_slice(&salt);
            }
        }
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&(sealed_len as u32).to_le_bytes());
        // `sealed` has room for the tag, so sealing in place never reallocates the plaintext.
        self.kek
            .aead_key()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&file[..]), &mut *sealed)
            .map_err(|_| Error::VaultCrypto("sealing failed"))?;
        file.extend_from_slice(&sealed);
        write_atomic(&self.path, &file, self.crash_before)
    }
}

impl State {
    fn retention_deadline(&self) -> Option<u64> {
        let enrolled_at = self.enrolled_at.filter(|_| !self.templates.is_empty())?;
        let start = enrolled_at.max(self.last_checkin_at.unwrap_or(0));
        Some(start.saturating_add(u64::from(self.retention_days) * SECS_PER_DAY))
    }

    fn is_expired(&self, now: u64) -> bool {
        self.retention_deadline().is_some_and(|deadline| now >= deadline)
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

    fn encoded_len(&self) -> usize {
        2 + self.fleet_id.len()
            + 2
            + self.signing_key.len()
            + 8
            + 4
            + 3 * 9
            + 1
            + 8 * self.failures.len()
            + 1
            + TEMPLATE_BYTES * self.templates.len()
    }

    /// The plaintext layout, in a buffer with room for the AEAD tag.
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len() + TAG_LEN));
        let put_optional = |out: &mut Vec<u8>, value: Option<u64>| {
            out.push(u8::from(value.is_some()));
            out.extend_from_slice(&value.unwrap_or(0).to_le_bytes());
        };
        out.extend_from_slice(&(self.fleet_id.len() as u16).to_le_bytes());
        out.extend_from_slice(self.fleet_id.as_bytes());
        out.extend_from_slice(&(self.signing_key.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.signing_key);
        out.extend_from_slice(&self.counter.to_le_bytes());
        out.extend_from_slice(&self.retention_days.to_le_bytes());
        put_optional(&mut out, self.enrolled_at);
        put_optional(&mut out, self.last_checkin_at);
        put_optional(&mut out, self.locked_until);
        out.push(self.failures.len() as u8);
        for t in &self.failures {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.push(self.templates.len() as u8);
        for template in &self.templates {
            for value in &template.0 {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out
    }

    /// Parses the plaintext layout; the caller has authenticated it, so a failure here means a bug or a vault
    /// written by a different layout under the same key.
    fn decode(plain: &[u8]) -> Option<State> {
        let mut r = Reader::new(plain);
        let fleet_len = usize::from(r.u16()?);
        let fleet_id = String::from_utf8(r.bytes(fleet_len)?.to_vec()).ok()?;
        check_id(&fleet_id, "").ok()?;
        let key_len = usize::from(r.u16()?);
        let signing_key = Zeroizing::new(r.bytes(key_len)?.to_vec());
        check_signing_key(&signing_key).ok()?;
        let counter = r.u64()?;
        let retention_days = r.u32()?;
        if !(1..=MAX_RETENTION_DAYS).contains(&retention_days) {
            return None;
        }
        let enrolled_at = r.optional()?;
        let last_checkin_at = r.optional()?;
        let locked_until = r.optional()?;
        let failure_count = usize::from(r.u8()?);
        if failure_count > LOCKOUT_FAILURES {
            return None;
        }
        let failures = (0..failure_count).map(|_| r.u64()).collect::<Option<Vec<u64>>>()?;
        let template_count = usize::from(r.u8()?);
        if template_count > MAX_TEMPLATES || enrolled_at.is_some() != (template_count > 0) {
            return None;
        }
        let mut templates = Vec::with_capacity(template_count);
        for _ in 0..template_count {
            let bytes = r.bytes(TEMPLATE_BYTES)?;
            // Decoded straight into the vector's (zeroized on drop) storage: no stray copy on the stack.
            templates.push(Embedding([0f32; EMBEDDING_LEN]));
            let template = templates.last_mut()?;
            for (value, chunk) in template.0.iter_mut().zip(bytes.chunks_exact(4)) {
                *value = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            if !template.0.iter().all(|v| v.is_finite()) {
                return None;
            }
        }
        if !r.is_empty() {
            return None;
        }
        Some(State {
            fleet_id,
            signing_key,
            counter,
            retention_days,
            enrolled_at,
            last_checkin_at,
            locked_until,
            failures,
            templates,
        })
    }
}

/// A bounds-checked little-endian reader; every method returns `None` past the end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    fn optional(&mut self) -> Option<Option<u64>> {
        match (self.u8()?, self.u64()?) {
            (0, 0) => Some(None),
            (1, value) => Some(Some(value)),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// A parsed, not yet authenticated, vault file.
struct SealedFile<'a> {
    driver_id: String,
    kdf: Kdf,
    nonce: [u8; NONCE_LEN],
    header: &'a [u8],
    sealed: &'a [u8],
}

fn parse_file(bytes: &[u8]) -> Result<SealedFile<'_>> {
    if bytes.is_empty() {
        return Err(Error::VaultCorrupt("the file is empty"));
    }
    if bytes.len() < MAGIC.len() {
        return Err(Error::VaultCorrupt(if MAGIC.starts_with(bytes) {
            "the header is truncated"
        } else {
            "not a vault file (bad magic number)"
        }));
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::VaultCorrupt("not a vault file (bad magic number)"));
    }
    let truncated = || Error::VaultCorrupt("the header is truncated");
    let mut r = Reader::new(&bytes[MAGIC.len()..]);
    let version = r.u16().ok_or_else(truncated)?;
    if version != FORMAT_VERSION {
        return Err(Error::VaultUnsupportedVersion(version));
    }
    let id_len = usize::from(r.u16().ok_or_else(truncated)?);
    if !(1..=MAX_ID_LEN).contains(&id_len) {
        return Err(Error::VaultCorrupt("the driver id length is out of range"));
    }
    let driver_id = std::str::from_utf8(r.bytes(id_len).ok_or_else(truncated)?)
        .map_err(|_| Error::VaultCorrupt("the driver id is not UTF-8"))?
        .to_owned();
    let kdf = match r.u8().ok_or_else(truncated)? {
        KDF_RAW => Kdf::Raw,
        KDF_PBKDF2 => Kdf::Pbkdf2 { salt: r.array().ok_or_else(truncated)? },
        _ => return Err(Error::VaultCorrupt("unknown key derivation")),
    };
    let nonce = r.array().ok_or_else(truncated)?;
    let sealed_len = r.u32().ok_or_else(truncated)? as usize;
    if !(TAG_LEN + 1..=MAX_SEALED_LEN).contains(&sealed_len) {
        return Err(Error::VaultCorrupt("the sealed length is out of range"));
    }
    let header_len = bytes.len() - r.rest.len();
    if r.rest.len() < sealed_len {
        return Err(Error::VaultCorrupt("the file is truncated"));
    }
    if r.rest.len() > sealed_len {
        return Err(Error::VaultCorrupt("the file has trailing bytes"));
    }
    Ok(SealedFile { driver_id, kdf, nonce, header: &bytes[..header_len], sealed: &bytes[header_len..] })
}

fn unseal(kek: &Kek, file: &SealedFile<'_>) -> Result<State> {
    let mut buffer = Zeroizing::new(file.sealed.to_vec());
    let plain = kek
        .aead_key()?
        .open_in_place(Nonce::assume_unique_for_key(file.nonce), Aad::from(file.header), &mut buffer[..])
        .map_err(|_| Error::VaultUnreadable)?;
    State::decode(plain).ok_or(Error::VaultCorrupt("the sealed contents are malformed"))
}

fn check_id(id: &str, reason: &'static str) -> Result<()> {
    if (1..=MAX_ID_LEN).contains(&id.len()) {
        Ok(())
    } else {
        Err(Error::VaultInvalidInput(reason))
    }
}

fn check_signing_key(key: &[u8]) -> Result<()> {
    if (1..=MAX_SIGNING_KEY_LEN).contains(&key.len()) {
        Ok(())
    } else {
        Err(Error::VaultInvalidInput("the signing key must be 1 to 1024 bytes"))
    }
}

fn check_templates(templates: &[Embedding]) -> Result<()> {
    if !(1..=MAX_TEMPLATES).contains(&templates.len()) {
        return Err(Error::VaultInvalidInput("enrollment takes 1 to 16 templates"));
    }
    let is_unit = |t: &Embedding| {
        let norm = t.0.iter().map(|v| v * v).sum::<f32>().sqrt();
        t.0.iter().all(|v| v.is_finite()) && (norm - 1.0).abs() < 1e-3
    };
    if !templates.iter().all(is_unit) {
        return Err(Error::VaultInvalidInput("a template is not a unit embedding"));
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn temp_path(path: &Path) -> PathBuf {
    sibling(path, ".tmp")
}

fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".lock")
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Takes the exclusive lock on `<vault>.lock`; `None` where the platform has no file locks.
fn lock_vault(path: &Path) -> Result<Option<File>> {
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path(path))
        .map_err(|source| Error::VaultIo { op: "open the lock file", source })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Err(Error::VaultBusy),
        Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
        Err(fs::TryLockError::Error(source)) => Err(Error::VaultIo { op: "lock the vault", source }),
    }
}

fn read_vault_file(path: &Path) -> Result<Vec<u8>> {
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

fn remove_stale_temp(temp: &Path) -> Result<()> {
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
fn write_atomic(path: &Path, bytes: &[u8], crash_before: Option<WriteStep>) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const STEPS: [WriteStep; 5] =
        [WriteStep::CreateTemp, WriteStep::WriteTemp, WriteStep::SyncTemp, WriteStep::Rename, WriteStep::SyncDir];
    const T0: u64 = 1_700_000_000;
    const DAY: u64 = SECS_PER_DAY;
    const DRIVER: &str = "driver-7f3a9c";
    const FLEET: &str = "fleet-north";

    /// A fresh directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("facecheck-vault-{}-{name}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create the test directory");
            TempDir(dir)
        }

        fn vault(&self) -> PathBuf {
            self.0.join("driver.vault")
        }

        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .expect("list the test directory")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    type VaultOp = fn(&mut Vault) -> Result<()>;
    type InitDamage = fn(&mut VaultInit);

    /// A deterministic xorshift generator for test data.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn unit(seed: u64) -> Embedding {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut v = [0f32; EMBEDDING_LEN];
        v.iter_mut().for_each(|x| *x = (rng.next() % 2001) as f32 / 1000.0 - 1.0);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        Embedding(v)
    }

    fn kek() -> Kek {
        Kek::from_bytes(&[0x42; KEK_LEN])
    }

    fn signing_key() -> Zeroizing<Vec<u8>> {
        Zeroizing::new((0..83u8).collect())
    }

    fn init() -> VaultInit {
        VaultInit {
            driver_id: DRIVER.into(),
            fleet_id: FLEET.into(),
            signing_key_pkcs8: signing_key(),
            templates: vec![unit(1), unit(2), unit(3)],
        }
    }

    fn create(dir: &TempDir) -> Vault {
        Vault::create(dir.vault(), &kek(), init(), T0).expect("create the vault")
    }

    fn open(dir: &TempDir, now: u64) -> Result<Vault> {
        Vault::open(dir.vault(), &kek(), now)
    }

    /// Everything the vault holds, for comparing states.
    fn snapshot(vault: &Vault) -> Vec<u8> {
        let mut bytes = vault.driver_id.as_bytes().to_vec();
        bytes.extend_from_slice(&vault.state.encode());
        bytes
    }

    fn open_err(bytes: &[u8]) -> Error {
        let dir = TempDir::new("bytes");
        fs::write(dir.vault(), bytes).expect("write the test file");
        let before = fs::read(dir.vault()).expect("read back");
        let err = match open(&dir, T0) {
            Ok(_) => panic!("a damaged vault opened"),
            Err(e) => e,
        };
        assert_eq!(fs::read(dir.vault()).expect("read back"), before, "a failed open changed the file");
        err
    }

    fn valid_file() -> Vec<u8> {
        let dir = TempDir::new("valid");
        drop(create(&dir));
        fs::read(dir.vault()).expect("read the vault")
    }

    #[test]
    fn vault_round_trip_preserves_every_field() {
        let dir = TempDir::new("round-trip");
        let mut vault = create(&dir);
        vault.set_retention_days(200, T0 + 5).expect("set retention");
        vault.record_failure(T0 + 10).expect("record failure");
        assert_eq!(vault.next_counter().expect("counter"), 1);
        let before = snapshot(&vault);
        drop(vault);

        let vault = open(&dir, T0 + 20).expect("reopen");
        assert_eq!(snapshot(&vault), before);
        assert_eq!(vault.driver_id(), DRIVER);
        assert_eq!(vault.fleet_id(), FLEET);
        assert_eq!(vault.signing_key_pkcs8(), &signing_key()[..]);
        assert_eq!(vault.counter(), 1);
        assert!(vault.is_enrolled());
        assert_eq!(vault.template_count(), 3);
        assert_eq!(vault.enrolled_at(), Some(T0));
        assert_eq!(vault.last_checkin_at(), None);
        assert_eq!(vault.retention_days(), 200);
        assert_eq!(vault.retention_deadline(), Some(T0 + 200 * DAY));
        assert_eq!(vault.locked_until(T0 + 20), None);
        assert_eq!(vault.state.failures, vec![T0 + 10]);
        assert!(vault.state.templates.iter().zip([unit(1), unit(2), unit(3)]).all(|(a, b)| a.0 == b.0));
        assert_eq!(dir.entries(), ["driver.vault", "driver.vault.lock"]);
    }

    #[test]
    fn vault_matches_only_inside_the_crate() {
        let dir = TempDir::new("match");
        let mut vault = create(&dir);
        assert_eq!(vault.best_distance(&unit(2), T0).expect("enrolled"), 0.0);
        let other = unit(99);
        let best = vault.best_distance(&other, T0).expect("enrolled");
        let expected = [unit(1), unit(2), unit(3)].iter().map(|t| t.distance(&other)).fold(f32::INFINITY, f32::min);
        assert_eq!(best, expected);
        let mean = Embedding::mean(&[unit(1), unit(2), unit(3)]).expect("mean");
        assert_eq!(vault.mean_distance(&other, T0).expect("enrolled"), mean.distance(&other));
        vault.erase(T0).expect("erase");
        assert!(matches!(vault.best_distance(&other, T0), Err(Error::VaultNotEnrolled)));
        assert!(matches!(vault.mean_distance(&other, T0), Err(Error::VaultNotEnrolled)));
    }

    #[test]
    fn vault_create_refuses_an_existing_vault_and_leaves_it_untouched() {
        let dir = TempDir::new("exists");
        drop(create(&dir));
        let before = fs::read(dir.vault()).expect("read");
        assert!(matches!(Vault::create(dir.vault(), &kek(), init(), T0 + 1), Err(Error::VaultExists)));
        assert_eq!(fs::read(dir.vault()).expect("read"), before);

        // Also a file that is not a vault, and a corrupt vault.
        let other = TempDir::new("exists-other");
        fs::write(other.vault(), b"not a vault").expect("write");
        assert!(matches!(Vault::create(other.vault(), &kek(), init(), T0), Err(Error::VaultExists)));
        assert_eq!(fs::read(other.vault()).expect("read"), b"not a vault");
    }

    #[test]
    fn vault_open_of_a_missing_file_is_vault_missing() {
        let dir = TempDir::new("missing");
        assert!(matches!(open(&dir, T0), Err(Error::VaultMissing)));
        assert!(matches!(Vault::read_salt(dir.vault()), Err(Error::VaultMissing)));
        assert!(dir.entries().is_empty(), "a failed open left files behind");
    }

    #[test]
    fn vault_second_handle_is_busy() {
        let dir = TempDir::new("busy");
        let vault = create(&dir);
        assert!(matches!(open(&dir, T0), Err(Error::VaultBusy)));
        drop(vault);
        open(&dir, T0).expect("open once the first handle is gone");
    }

    #[test]
    fn vault_wrong_key_is_unreadable() {
        let dir = TempDir::new("wrong-key");
        drop(create(&dir));
        let before = fs::read(dir.vault()).expect("read");
        let wrong = Kek::from_bytes(&[0x43; KEK_LEN]);
        assert!(matches!(Vault::open(dir.vault(), &wrong, T0), Err(Error::VaultUnreadable)));
        assert_eq!(fs::read(dir.vault()).expect("read"), before);
        open(&dir, T0).expect("the right key still opens it");
    }

    #[test]
    fn vault_passphrase_key_round_trip() {
        let salt = Kek::generate_salt().expect("salt");
        let a = Kek::from_passphrase(b"correct horse battery staple", &salt);
        let b = Kek::from_passphrase(b"correct horse battery staple", &salt);
        assert_eq!(a.secret_bytes(), b.secret_bytes());
        let mut other_salt = salt;
        other_salt[0] ^= 1;
        assert_ne!(Kek::from_passphrase(b"correct horse battery staple", &other_salt).secret_bytes(), a.secret_bytes());

        let dir = TempDir::new("passphrase");
        let mut vault = Vault::create(dir.vault(), &a, init(), T0).expect("create");
        vault.next_counter().expect("counter");
        drop(vault);
        let stored = Vault::read_salt(dir.vault()).expect("header").expect("a passphrase vault has a salt");
        assert_eq!(stored, salt);
        let vault = Vault::open(dir.vault(), &Kek::from_passphrase(b"correct horse battery staple", &stored), T0)
            .expect("reopen with the passphrase");
        assert_eq!(vault.counter(), 1);
        drop(vault);
        let wrong = Kek::from_passphrase(b"correct horse battery stapler", &stored);
        assert!(matches!(Vault::open(dir.vault(), &wrong, T0), Err(Error::VaultUnreadable)));

        let raw = TempDir::new("raw-salt");
        drop(create(&raw));
        assert_eq!(Vault::read_salt(raw.vault()).expect("header"), None);
    }

    #[test]
    fn vault_kek_generate_is_random_and_from_bytes_is_exact() {
        let a = Kek::generate().expect("generate");
        let b = Kek::generate().expect("generate");
        assert_ne!(a.secret_bytes(), b.secret_bytes());
        assert_eq!(Kek::from_bytes(&[9; KEK_LEN]).secret_bytes(), &[9; KEK_LEN]);
        assert_eq!(format!("{a:?}"), "Kek(..)");
    }

    #[test]
    fn vault_file_layout_is_the_documented_one() {
        let bytes = valid_file();
        assert_eq!(&bytes[..8], b"FCVAULT\0");
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 1);
        let n = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
        assert_eq!(&bytes[12..12 + n], DRIVER.as_bytes());
        assert_eq!(bytes[12 + n], KDF_RAW);
        let len_at = 13 + n + NONCE_LEN;
        let sealed_len = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().expect("4 bytes")) as usize;
        assert_eq!(bytes.len(), len_at + 4 + sealed_len);
        let plain_len = 2 + FLEET.len() + 2 + 83 + 8 + 4 + 27 + 1 + 1 + 3 * 512;
        assert_eq!(sealed_len, plain_len + TAG_LEN);
        // Two writes of the same state use different nonces.
        let again = valid_file();
        assert_ne!(bytes[13 + n..len_at], again[13 + n..len_at]);
    }

    #[test]
    fn vault_empty_and_foreign_files_are_corrupt() {
        assert!(matches!(open_err(b""), Error::VaultCorrupt("the file is empty")));
        assert!(matches!(open_err(b"FCV"), Error::VaultCorrupt("the header is truncated")));
        assert!(matches!(open_err(b"GIF89a"), Error::VaultCorrupt("not a vault file (bad magic number)")));
        assert!(matches!(
            open_err(b"\x89PNG\r\n\x1a\n\0\0\0\0"),
            Error::VaultCorrupt("not a vault file (bad magic number)")
        ));
        let mut wrong_magic = valid_file();
        wrong_magic[0] = b'X';
        assert!(matches!(open_err(&wrong_magic), Error::VaultCorrupt("not a vault file (bad magic number)")));
    }

    #[test]
    fn vault_unknown_version_is_reported_as_such() {
        let mut bytes = valid_file();
        bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
        assert!(matches!(open_err(&bytes), Error::VaultUnsupportedVersion(2)));
        bytes[8..10].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(open_err(&bytes), Error::VaultUnsupportedVersion(0)));
    }

    #[test]
    fn vault_every_truncation_fails_cleanly() {
        let bytes = valid_file();
        let dir = TempDir::new("truncate");
        for len in 0..bytes.len() {
            fs::write(dir.vault(), &bytes[..len]).expect("write");
            match open(&dir, T0) {
                Err(Error::VaultCorrupt(_)) => {}
                Err(e) => panic!("truncation to {len} bytes gave {e:?}"),
                Ok(_) => panic!("truncation to {len} bytes opened"),
            }
        }
        // Trailing bytes are refused too.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(open_err(&longer), Error::VaultCorrupt("the file has trailing bytes")));
    }

    #[test]
    fn vault_every_byte_flip_fails_cleanly() {
        let bytes = valid_file();
        let dir = TempDir::new("flip");
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut damaged = bytes.clone();
                damaged[i] ^= mask;
                fs::write(dir.vault(), &damaged).expect("write");
                match open(&dir, T0) {
                    Err(Error::VaultCorrupt(_) | Error::VaultUnsupportedVersion(_) | Error::VaultUnreadable) => {}
                    Err(e) => panic!("flipping byte {i} with {mask:#x} gave {e:?}"),
                    Ok(_) => panic!("flipping byte {i} with {mask:#x} went unnoticed"),
                }
            }
        }
    }

    #[test]
    fn vault_random_damage_and_garbage_never_panic() {
        let bytes = valid_file();
        let dir = TempDir::new("random");
        let mut rng = Rng(0x5EED_F00D);
        for round in 0..400 {
            let mut damaged = if round % 4 == 0 {
                (0..rng.below(2 * bytes.len())).map(|_| rng.next() as u8).collect()
            } else {
                let mut damaged = bytes.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(damaged.len());
                    damaged[at] = rng.next() as u8;
                }
                damaged
            };
            if round % 3 == 0 {
                damaged.truncate(rng.below(damaged.len() + 1));
            }
            if damaged == bytes {
                continue;
            }
            fs::write(dir.vault(), &damaged).expect("write");
            assert!(open(&dir, T0).is_err(), "random damage in round {round} went unnoticed");
            let _ = Vault::read_salt(dir.vault());
        }
    }

    #[test]
    fn vault_huge_length_fields_are_corrupt() {
        let bytes = valid_file();
        let n = DRIVER.len();
        let mut id_len = bytes.clone();
        id_len[10..12].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(open_err(&id_len), Error::VaultCorrupt("the driver id length is out of range")));
        id_len[10..12].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(open_err(&id_len), Error::VaultCorrupt("the driver id length is out of range")));
        // A plausible id length that runs past the end of a short file.
        let short = [&bytes[..10], &200u16.to_le_bytes()[..], b"abc"].concat();
        assert!(matches!(open_err(&short), Error::VaultCorrupt("the header is truncated")));

        let len_at = 13 + n + NONCE_LEN;
        for huge in [u32::MAX, MAX_SEALED_LEN as u32 + 1, 0, TAG_LEN as u32] {
            let mut sealed_len = bytes.clone();
            sealed_len[len_at..len_at + 4].copy_from_slice(&huge.to_le_bytes());
            assert!(matches!(open_err(&sealed_len), Error::VaultCorrupt("the sealed length is out of range")));
        }
        let mut one_more = bytes.clone();
        let real = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().expect("4 bytes"));
        one_more[len_at..len_at + 4].copy_from_slice(&(real + 1).to_le_bytes());
        assert!(matches!(open_err(&one_more), Error::VaultCorrupt("the file is truncated")));

        let mut kdf = bytes.clone();
        kdf[12 + n] = 7;
        assert!(matches!(open_err(&kdf), Error::VaultCorrupt("unknown key derivation")));
    }

    #[test]
    fn vault_oversized_file_is_corrupt_without_reading_it_all() {
        let mut bytes = valid_file();
        bytes.resize(8 << 20, 0);
        assert!(matches!(open_err(&bytes), Error::VaultCorrupt("the file is larger than any vault")));
    }

    #[test]
    fn vault_header_is_authenticated() {
        // Another driver id of the same length: the header parses, the tag fails.
        let bytes = valid_file();
        let mut other = bytes.clone();
        other[12] ^= 0x20; // 'd' -> 'D'
        assert!(matches!(open_err(&other), Error::VaultUnreadable));

        // A sealed body moved under another driver's header (a valid one of its own) is refused.
        let dir = TempDir::new("splice");
        let mut init = init();
        init.driver_id = "driver-000001".into();
        drop(Vault::create(dir.vault(), &kek(), init, T0).expect("create"));
        let theirs = fs::read(dir.vault()).expect("read");
        let header_len = 13 + DRIVER.len() + NONCE_LEN + 4;
        let spliced = [&theirs[..header_len], &bytes[header_len..]].concat();
        assert!(matches!(open_err(&spliced), Error::VaultUnreadable));
    }

    #[test]
    fn vault_malformed_contents_under_the_right_key_are_corrupt() {
        let dir = TempDir::new("malformed");
        let mut vault = create(&dir);
        // Templates without an enrollment time violate the layout's invariant.
        vault.state.enrolled_at = None;
        vault.write(&vault.state).expect("write");
        drop(vault);
        assert!(matches!(open(&dir, T0), Err(Error::VaultCorrupt("the sealed contents are malformed"))));
    }

    #[test]
    fn vault_counter_is_strictly_increasing_and_durable() {
        let dir = TempDir::new("counter");
        let mut vault = create(&dir);
        assert_eq!(vault.counter(), 0);
        for expected in 1..=5 {
            assert_eq!(vault.next_counter().expect("counter"), expected);
        }
        drop(vault);
        let mut vault = open(&dir, T0).expect("reopen");
        assert_eq!(vault.counter(), 5);
        assert_eq!(vault.next_counter().expect("counter"), 6);
    }

    #[test]
    fn vault_counter_never_repeats_across_crashes() {
        let dir = TempDir::new("counter-crash");
        drop(create(&dir));
        let mut handed_out = Vec::new();
        for round in 0..30 {
            let mut vault = open(&dir, T0).expect("reopen after a crash");
            vault.crash_before = STEPS.get(round % (STEPS.len() + 1)).copied();
            if let Ok(value) = vault.next_counter() {
                handed_out.push(value);
            }
            let in_memory = vault.counter();
            drop(vault);
            // Whatever happened, the durable counter covers every value handed out.
            let durable = open(&dir, T0).expect("reopen").counter();
            assert!(durable >= handed_out.last().copied().unwrap_or(0));
            assert!(durable == in_memory || durable == in_memory + 1);
        }
        assert!(handed_out.windows(2).all(|w| w[0] < w[1]), "a counter value was handed out twice: {handed_out:?}");
        assert_eq!(handed_out.len(), 5);
    }

    /// Runs `op` with a crash before each write step, and checks that reopening gives exactly the old or the new
    /// state: the old one when the crash came before the rename, the new one after.
    fn assert_crash_safe(name: &str, prepare: impl Fn(&mut Vault), op: impl Fn(&mut Vault) -> Result<()>) {
        for step in STEPS {
            let dir = TempDir::new(name);
            let mut vault = create(&dir);
            prepare(&mut vault);
            let old = snapshot(&vault);
            // The expected new state, from the same operation without a crash.
            let new = {
                let scratch = TempDir::new(name);
                let mut clean = create(&scratch);
                prepare(&mut clean);
                op(&mut clean).expect("the operation without a crash");
                snapshot(&clean)
            };
            assert_ne!(old, new, "{name}: the operation must change the state");

            vault.crash_before = Some(step);
            assert!(op(&mut vault).is_err(), "{name}: the simulated crash before {step:?} was not reported");
            assert_eq!(snapshot(&vault), old, "{name}: a failed write changed the in-memory state");
            drop(vault);

            let reopened = open(&dir, T0 + 100).expect("reopen after the crash");
            let state = snapshot(&reopened);
            let expected = if step == WriteStep::SyncDir { &new } else { &old };
            assert!(state == *expected, "{name}: crash before {step:?} left neither the expected state");
            assert_eq!(dir.entries(), ["driver.vault", "driver.vault.lock"], "{name}: the temp file was not cleaned");
        }
    }

    #[test]
    fn vault_crash_at_any_write_step_leaves_the_old_or_the_new_state() {
        let none = |_: &mut Vault| {};
        assert_crash_safe("crash-counter", none, |v| v.next_counter().map(drop));
        assert_crash_safe("crash-failure", none, |v| v.record_failure(T0 + 60).map(drop));
        assert_crash_safe(
            "crash-success",
            |v| {
                v.record_failure(T0 + 30).expect("failure");
            },
            |v| v.record_success(T0 + 60),
        );
        assert_crash_safe("crash-erase", none, |v| v.erase(T0 + 60).map(drop));
        assert_crash_safe("crash-retention", none, |v| v.set_retention_days(30, T0 + 60));
    }

    #[test]
    fn vault_crash_during_create_leaves_no_vault_or_the_vault() {
        for step in STEPS {
            let dir = TempDir::new("crash-create");
            let result = Vault::create_inner(&dir.vault(), &kek(), init(), T0, Some(step));
            assert!(result.is_err());
            drop(result);
            if step == WriteStep::SyncDir {
                let vault = open(&dir, T0).expect("the renamed vault opens");
                assert_eq!(vault.counter(), 0);
            } else {
                assert!(matches!(open(&dir, T0), Err(Error::VaultMissing)));
                // Creating again succeeds over the leftover temp file, and cleans it.
                drop(create(&dir));
            }
            assert_eq!(dir.entries(), ["driver.vault", "driver.vault.lock"], "crash before {step:?}");
        }
    }

    #[test]
    fn vault_stale_temp_file_is_ignored_and_removed() {
        let dir = TempDir::new("stale");
        let mut vault = create(&dir);
        vault.next_counter().expect("counter");
        let old = snapshot(&vault);
        drop(vault);
        let temp = temp_path(&dir.vault());
        for stale in [b"".to_vec(), b"FCVAULT\0garbage".to_vec(), valid_file()] {
            fs::write(&temp, &stale).expect("write a stale temp file");
            let mut vault = open(&dir, T0).expect("open ignores the temp file");
            assert_eq!(snapshot(&vault), old);
            assert!(!temp.exists(), "open did not remove the stale temp file");
            // A write over a stale temp file works too.
            fs::write(&temp, &stale).expect("write a stale temp file");
            vault.next_counter().expect("counter");
            vault.state.counter -= 1;
            vault.write(&vault.state).expect("rewrite the old state");
            assert!(!temp.exists());
        }
    }

    #[test]
    fn vault_five_failures_within_three_minutes_lock_out_for_thirty_minutes() {
        let dir = TempDir::new("lockout");
        let mut vault = create(&dir);
        for i in 0..4 {
            assert_eq!(vault.record_failure(T0 + 45 * i).expect("failure"), None);
        }
        // The fifth, exactly three minutes after the first, still counts.
        assert_eq!(vault.record_failure(T0 + 180).expect("failure"), Some(T0 + 180 + LOCKOUT_SECS));
        assert_eq!(vault.locked_until(T0 + 181), Some(T0 + 180 + LOCKOUT_SECS));
        // Attempts during the lock-out neither count nor extend it.
        assert_eq!(vault.record_failure(T0 + 600).expect("failure"), Some(T0 + 180 + LOCKOUT_SECS));
        drop(vault);

        // It survives a restart.
        let mut vault = open(&dir, T0 + 1000).expect("reopen");
        assert_eq!(vault.locked_until(T0 + 1000), Some(T0 + 180 + LOCKOUT_SECS));
        assert_eq!(vault.locked_until(T0 + 180 + LOCKOUT_SECS - 1), Some(T0 + 180 + LOCKOUT_SECS));
        assert_eq!(vault.locked_until(T0 + 180 + LOCKOUT_SECS), None);
        // After it, counting starts afresh.
        let after = T0 + 180 + LOCKOUT_SECS;
        for i in 0..4 {
            assert_eq!(vault.record_failure(after + i).expect("failure"), None);
        }
        assert!(vault.record_failure(after + 4).expect("failure").is_some());
    }

    #[test]
    fn vault_failures_older_than_three_minutes_are_pruned() {
        let dir = TempDir::new("prune");
        let mut vault = create(&dir);
        // One failure every 46 seconds: never five within 180 seconds.
        for i in 0..20 {
            assert_eq!(vault.record_failure(T0 + 46 * i).expect("failure"), None, "failure {i}");
            assert!(vault.state.failures.len() <= 4);
        }
        assert!(vault.state.failures.iter().all(|&t| T0 + 46 * 19 - t <= LOCKOUT_WINDOW_SECS));
    }

    #[test]
    fn vault_success_clears_failures_and_restarts_retention() {
        let dir = TempDir::new("success");
        let mut vault = create(&dir);
        for i in 0..4 {
            vault.record_failure(T0 + i).expect("failure");
        }
        vault.record_success(T0 + 10).expect("success");
        assert!(vault.state.failures.is_empty());
        assert_eq!(vault.last_checkin_at(), Some(T0 + 10));
        assert_eq!(vault.retention_deadline(), Some(T0 + 10 + 365 * DAY));
        // Four more failures do not lock: the earlier ones were cleared.
        for i in 0..4 {
            assert_eq!(vault.record_failure(T0 + 20 + i).expect("failure"), None);
        }
        drop(vault);
        let vault = open(&dir, T0 + 30).expect("reopen");
        assert_eq!(vault.last_checkin_at(), Some(T0 + 10));
        assert_eq!(vault.state.failures.len(), 4);
    }

    #[test]
    fn vault_retention_defaults_to_a_year_and_refuses_more_than_three() {
        let dir = TempDir::new("retention-limits");
        let mut vault = create(&dir);
        assert_eq!(vault.retention_days(), DEFAULT_RETENTION_DAYS);
        assert_eq!(vault.retention_deadline(), Some(T0 + 365 * DAY));
        for days in [0, MAX_RETENTION_DAYS + 1, u32::MAX] {
            assert!(matches!(vault.set_retention_days(days, T0), Err(Error::VaultRetention { .. })));
        }
        assert_eq!(vault.retention_days(), DEFAULT_RETENTION_DAYS);
        vault.set_retention_days(MAX_RETENTION_DAYS, T0).expect("three years");
        drop(vault);
        assert_eq!(open(&dir, T0).expect("reopen").retention_days(), MAX_RETENTION_DAYS);
    }

    #[test]
    fn vault_retention_expiry_wipes_the_template_on_open() {
        let dir = TempDir::new("retention-open");
        drop(create(&dir));
        let deadline = T0 + 365 * DAY;
        let vault = open(&dir, deadline - 1).expect("open before the deadline");
        assert!(vault.is_enrolled());
        drop(vault);
        let vault = open(&dir, deadline).expect("open at the deadline");
        assert!(!vault.is_enrolled());
        assert_eq!(vault.template_count(), 0);
        assert_eq!(vault.enrolled_at(), None);
        assert_eq!(vault.retention_deadline(), None);
        assert_eq!(vault.signing_key_pkcs8(), &signing_key()[..], "the device key stays");
        drop(vault);
        // The wipe was written: even an earlier clock does not bring the template back.
        let vault = open(&dir, T0).expect("reopen");
        assert!(!vault.is_enrolled());
        let len = fs::metadata(dir.vault()).expect("metadata").len() as usize;
        assert!(len < 3 * TEMPLATE_BYTES, "the rewritten file still has room for templates");
    }

    #[test]
    fn vault_retention_is_applied_by_every_operation_with_a_time() {
        let late = T0 + 365 * DAY;
        let ops: [(&str, VaultOp); 4] = [
            ("record_failure", |v| v.record_failure(T0 + 365 * DAY).map(drop)),
            ("record_success", |v| v.record_success(T0 + 365 * DAY)),
            ("best_distance", |v| v.best_distance(&unit(1), T0 + 365 * DAY).map(drop)),
            ("set_retention_days", |v| v.set_retention_days(400, T0 + 365 * DAY)),
        ];
        for (name, op) in ops {
            let dir = TempDir::new("retention-ops");
            let mut vault = create(&dir);
            let result = op(&mut vault);
            if name == "record_success" || name == "best_distance" {
                assert!(matches!(result, Err(Error::VaultNotEnrolled)), "{name}");
            }
            assert!(!vault.is_enrolled(), "{name} kept an expired template");
            drop(vault);
            assert!(!open(&dir, T0).expect("reopen").is_enrolled(), "{name} did not persist the wipe");
        }
        // A check-in before the deadline moves it.
        let dir = TempDir::new("retention-extend");
        let mut vault = create(&dir);
        vault.record_success(late - 1).expect("success");
        assert!(vault.best_distance(&unit(1), late + DAY).is_ok());
        // A shorter period applies at once.
        vault.set_retention_days(1, late + DAY).expect("shorten");
        assert!(!vault.is_enrolled());
    }

    #[test]
    fn vault_erase_wipes_the_template_and_reserves_a_counter() {
        let dir = TempDir::new("erase");
        let mut vault = create(&dir);
        vault.next_counter().expect("counter");
        let ticket = vault.erase(T0 + 50).expect("erase");
        assert_eq!(ticket.driver_id, DRIVER);
        assert_eq!(ticket.fleet_id, FLEET);
        assert_eq!(ticket.counter, 2);
        assert_eq!(ticket.erased_at, T0 + 50);
        assert_eq!(&ticket.signing_key_pkcs8[..], &signing_key()[..]);
        assert!(!format!("{ticket:?}").contains(DRIVER));
        assert!(!vault.is_enrolled());
        drop(vault);

        let mut vault = open(&dir, T0 + 60).expect("reopen");
        assert!(!vault.is_enrolled());
        assert_eq!(vault.counter(), 2);
        assert_eq!(vault.next_counter().expect("counter"), 3);
        // Erasing twice is allowed and reserves another value.
        assert_eq!(vault.erase(T0 + 70).expect("erase").counter, 4);
    }

    #[test]
    fn vault_erased_stays_without_template_and_a_new_enrollment_is_a_new_vault() {
        let dir = TempDir::new("erased");
        let mut vault = create(&dir);
        vault.erase(T0 + 2).expect("erase");
        assert!(matches!(vault.record_success(T0 + 3), Err(Error::VaultNotEnrolled)));
        assert!(matches!(vault.best_distance(&unit(1), T0 + 3), Err(Error::VaultNotEnrolled)));
        drop(vault);
        let vault = open(&dir, T0 + 5).expect("reopen");
        assert!(!vault.is_enrolled());
        assert_eq!(vault.template_count(), 0);
        // No method puts a template back into it: enrolling again means destroying it and creating a new vault.
        vault.destroy().expect("destroy");
        let mut fresh = init();
        fresh.templates = vec![unit(5), unit(6)];
        let mut vault = Vault::create(dir.vault(), &kek(), fresh, T0 + 6).expect("create anew");
        assert_eq!((vault.enrolled_at(), vault.counter()), (Some(T0 + 6), 0));
        assert_eq!(vault.best_distance(&unit(6), T0 + 7).expect("enrolled"), 0.0);
    }

    #[test]
    fn vault_refuses_invalid_input() {
        let dir = TempDir::new("invalid");
        let cases: [(&str, InitDamage); 7] = [
            ("empty driver id", |i| i.driver_id.clear()),
            ("long driver id", |i| i.driver_id = "d".repeat(MAX_ID_LEN + 1)),
            ("empty fleet id", |i| i.fleet_id.clear()),
            ("empty key", |i| i.signing_key_pkcs8 = Zeroizing::new(Vec::new())),
            ("no templates", |i| i.templates.clear()),
            ("too many templates", |i| i.templates = (0..17).map(unit).collect()),
            ("not a unit template", |i| i.templates[0] = Embedding([0.5; EMBEDDING_LEN])),
        ];
        for (name, damage) in cases {
            let mut bad = init();
            damage(&mut bad);
            assert!(matches!(Vault::create(dir.vault(), &kek(), bad, T0), Err(Error::VaultInvalidInput(_))), "{name}");
            assert!(!dir.vault().exists(), "{name}");
        }
        let mut long = init();
        long.driver_id = "d".repeat(MAX_ID_LEN);
        long.fleet_id = "f".repeat(MAX_ID_LEN);
        long.templates = (0..MAX_TEMPLATES as u64).map(unit).collect();
        drop(Vault::create(dir.vault(), &kek(), long, T0).expect("the largest vault"));
        let vault = open(&dir, T0).expect("reopen the largest vault");
        assert_eq!(vault.template_count(), MAX_TEMPLATES);
    }

    #[test]
    fn vault_destroy_removes_the_files() {
        let dir = TempDir::new("destroy");
        let mut vault = create(&dir);
        vault.erase(T0).expect("erase");
        vault.destroy().expect("destroy");
        assert!(dir.entries().is_empty());
        assert!(matches!(open(&dir, T0), Err(Error::VaultMissing)));
    }

    #[cfg(unix)]
    #[test]
    fn vault_files_are_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("mode");
        let mut vault = create(&dir);
        vault.next_counter().expect("counter");
        for path in [dir.vault(), lock_path(&dir.vault())] {
            assert_eq!(fs::metadata(&path).expect("metadata").permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn vault_texts_carry_no_user_data() {
        let dir = TempDir::new("texts");
        let vault = create(&dir);
        let debug = format!("{vault:?}");
        assert!(!debug.contains(DRIVER) && !debug.contains(FLEET), "{debug}");
        let errors = [
            Error::VaultMissing,
            Error::VaultExists,
            Error::VaultBusy,
            Error::VaultCorrupt("the file is truncated"),
            Error::VaultUnsupportedVersion(9),
            Error::VaultUnreadable,
            Error::VaultIo { op: "read the vault", source: io::Error::other("disk") },
            Error::VaultRetention { days: 2000, max: MAX_RETENTION_DAYS },
            Error::VaultInvalidInput("x"),
            Error::VaultAlreadyEnrolled,
            Error::VaultNotEnrolled,
            Error::VaultCrypto("the random number generator failed"),
        ];
        for error in errors {
            let text = error.to_string();
            assert!(!text.is_empty());
            assert!(!text.contains(DRIVER) && !text.contains(FLEET) && !text.contains("driver.vault"), "{text}");
        }
    }
}
