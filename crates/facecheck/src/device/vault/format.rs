//! The vault's file format, version 2 (and version 1, read and migrated): the bytes on disk and the sealed
//! contents, and nothing else (no key, no file, no rule). [`seal`](super::seal) encrypts and authenticates what
//! this module lays out; the vault's rules ([`lockout`](super::lockout), [`retention`](super::retention)) bound
//! some of the fields.
//!
//! The layout is specified in the vault's module documentation (`mod.rs`, "File format"), the public description
//! of the file; this module implements it byte for byte, and a change here is a change there (and a new version).
//! A version-1 file is read into the same [`State`], with its lock-out carried over by [`V1LockOut::migrate`];
//! the next write stores it as version 2.

use super::lockout::{Lock, LockOutState, SHORT_LOCKOUT_FAILURES};
use super::retention;
use crate::device::clock::Clock;
use crate::pipeline::embed::{Embedding, EMBEDDING_LEN};
use crate::{Error, Result};
use ring::aead::NONCE_LEN;
use zeroize::Zeroizing;

/// The first eight bytes of every vault file.
pub const MAGIC: [u8; 8] = *b"FCVAULT\0";
/// The file format version this library writes (it also reads [`FORMAT_VERSION_1`]).
pub const FORMAT_VERSION: u16 = 2;
/// The first file format version, still read (and rewritten as [`FORMAT_VERSION`]).
pub const FORMAT_VERSION_1: u16 = 1;
/// Length of the PBKDF2 salt, in bytes.
pub const SALT_LEN: usize = 16;
/// Most templates one vault holds.
pub const MAX_TEMPLATES: usize = 16;
/// Longest driver or fleet id, in bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest device signing key, in bytes.
pub const MAX_SIGNING_KEY_LEN: usize = 1024;

/// Length of the AES-GCM tag at the end of the sealed contents.
pub(super) const TAG_LEN: usize = 16;
pub(super) const TEMPLATE_BYTES: usize = EMBEDDING_LEN * 4;
pub(super) const MAX_SEALED_LEN: usize = 1 << 16;
const MAX_HEADER_LEN: usize = 8 + 2 + 2 + MAX_ID_LEN + 1 + SALT_LEN + NONCE_LEN + 4;
/// The largest file a vault can be.
pub(super) const MAX_FILE_LEN: usize = MAX_HEADER_LEN + MAX_SEALED_LEN;
pub(super) const KDF_RAW: u8 = 0;
const KDF_PBKDF2: u8 = 1;
const LOCK_NONE: u8 = 0;
const LOCK_TIMED: u8 = 1;
const LOCK_UNTIL_REENROLLED: u8 = 2;
/// Most failed attempts a version-1 vault recorded (its lock-out threshold).
const V1_MAX_FAILURES: usize = 5;

/// How the key-encryption key was obtained; recorded in the header so that a passphrase vault can be reopened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kdf {
    Raw,
    Pbkdf2 { salt: [u8; SALT_LEN] },
}

/// The sealed contents.
#[derive(Clone)]
pub(super) struct State {
    pub(super) fleet_id: String,
    pub(super) signing_key: Zeroizing<Vec<u8>>,
    pub(super) counter: u64,
    pub(super) retention_days: u32,
    pub(super) enrolled_at: Option<u64>,
    pub(super) last_checkin_at: Option<u64>,
    pub(super) lock_out: LockOutState,
    pub(super) templates: Vec<Embedding>,
}

/// The length of the lock-out fields: failures, lock kind, length, served, and the reading they were counted at.
const LOCK_OUT_LEN: usize = 4 + 1 + 8 + 8 + 8 + 9;

/// The lock-out of a version-1 vault, which kept the end of a lock-out in wall-clock time and the times of the
/// recent failures; [`migrate`](V1LockOut::migrate) turns it into the version-2 state once a reading is at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct V1LockOut {
    locked_until: Option<u64>,
    recent_failures: u32,
}

impl V1LockOut {
    /// The version-2 lock-out for a version-1 one, at `now`: its recent failures count as failures since the last
    /// match, and a lock-out still running becomes a timed one with the time it had left (which the five failures
    /// that started it are added back for: version 1 cleared them).
    pub(super) fn migrate(self, now: Clock) -> LockOutState {
        let remaining = self.locked_until.map_or(0, |until| until.saturating_sub(now.wall));
        if remaining == 0 {
            return LockOutState { failures: self.recent_failures, lock: None };
        }
        LockOutState {
            failures: self.recent_failures + SHORT_LOCKOUT_FAILURES,
            lock: Some(Lock::Timed { length: remaining, served: 0, checked: now }),
        }
    }
}

impl State {
    fn encoded_len(&self) -> usize {
        2 + self.fleet_id.len()
            + 2
            + self.signing_key.len()
            + 8
            + 4
            + 2 * 9
            + LOCK_OUT_LEN
            + 1
            + TEMPLATE_BYTES * self.templates.len()
    }

    /// The plaintext layout, in a buffer with room for the AEAD tag.
    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
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
        out.extend_from_slice(&self.lock_out.failures.to_le_bytes());
        let (kind, length, served, checked) = match self.lock_out.lock {
            None => (LOCK_NONE, 0, 0, Clock::wall_only(0)),
            Some(Lock::Timed { length, served, checked }) => (LOCK_TIMED, length, served, checked),
            Some(Lock::UntilReenrolled) => (LOCK_UNTIL_REENROLLED, 0, 0, Clock::wall_only(0)),
        };
        out.push(kind);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&served.to_le_bytes());
        out.extend_from_slice(&checked.wall.to_le_bytes());
        put_optional(&mut out, checked.elapsed);
        out.push(self.templates.len() as u8);
        for template in &self.templates {
            for value in &template.0 {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out
    }

    /// Parses the plaintext layout of `version` (the header's, already checked to be one this library reads); the
    /// caller has authenticated it, so a failure here means a bug or a vault written by a different layout under
    /// the same key. A version-1 vault's lock-out comes back apart, to be migrated at the reading of its opening.
    pub(super) fn decode(plain: &[u8], version: u16) -> Option<(State, Option<V1LockOut>)> {
        let mut r = Reader::new(plain);
        let fleet_len = usize::from(r.u16()?);
        let fleet_id = String::from_utf8(r.bytes(fleet_len)?.to_vec()).ok()?;
        check_id(&fleet_id, "").ok()?;
        let key_len = usize::from(r.u16()?);
        let signing_key = Zeroizing::new(r.bytes(key_len)?.to_vec());
        check_signing_key(&signing_key).ok()?;
        let counter = r.u64()?;
        let retention_days = r.u32()?;
        if !retention::allows(retention_days) {
            return None;
        }
        let enrolled_at = r.optional()?;
        let last_checkin_at = r.optional()?;
        let (lock_out, v1) = if version == FORMAT_VERSION_1 {
            let locked_until = r.optional()?;
            let failure_count = usize::from(r.u8()?);
            if failure_count > V1_MAX_FAILURES {
                return None;
            }
            r.bytes(8 * failure_count)?;
            let recent_failures = failure_count as u32;
            (LockOutState::default(), Some(V1LockOut { locked_until, recent_failures }))
        } else {
            (r.lock_out()?, None)
        };
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
        let state =
            State { fleet_id, signing_key, counter, retention_days, enrolled_at, last_checkin_at, lock_out, templates };
        Some((state, v1))
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

    /// The version-2 lock-out fields; every combination the encoder cannot write is refused.
    fn lock_out(&mut self) -> Option<LockOutState> {
        let failures = self.u32()?;
        let (kind, length, served) = (self.u8()?, self.u64()?, self.u64()?);
        let checked = Clock::new(self.u64()?, self.optional()?);
        let lock = match kind {
            LOCK_NONE if (length, served, checked) == (0, 0, Clock::wall_only(0)) => None,
            LOCK_TIMED if served < length => Some(Lock::Timed { length, served, checked }),
            LOCK_UNTIL_REENROLLED if (length, served, checked) == (0, 0, Clock::wall_only(0)) => {
                Some(Lock::UntilReenrolled)
            }
            _ => return None,
        };
        Some(LockOutState { failures, lock })
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// A parsed, not yet authenticated, vault file.
pub(super) struct SealedFile<'a> {
    pub(super) version: u16,
    pub(super) driver_id: String,
    pub(super) kdf: Kdf,
    pub(super) nonce: [u8; NONCE_LEN],
    pub(super) header: &'a [u8],
    pub(super) sealed: &'a [u8],
}

/// A buffer holding the header of a file whose sealed part (contents and tag) is `sealed_len` bytes, with room for
/// that part; [`Error::VaultInvalidInput`] if it is larger than a vault holds.
pub(super) fn header(driver_id: &str, kdf: Kdf, nonce: &[u8; NONCE_LEN], sealed_len: usize) -> Result<Vec<u8>> {
    if sealed_len > MAX_SEALED_LEN {
        return Err(Error::VaultInvalidInput("the vault contents are too large"));
    }
    let mut file = Vec::with_capacity(MAX_HEADER_LEN + sealed_len);
    file.extend_from_slice(&MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(driver_id.len() as u16).to_le_bytes());
    file.extend_from_slice(driver_id.as_bytes());
    match kdf {
        Kdf::Raw => file.push(KDF_RAW),
        Kdf::Pbkdf2 { salt } => {
            file.push(KDF_PBKDF2);
            file.extend_from_slice(&salt);
        }
    }
    file.extend_from_slice(nonce);
    file.extend_from_slice(&(sealed_len as u32).to_le_bytes());
    Ok(file)
}

/// Parses a vault file up to its sealed part, which is left to [`seal`](super::seal) to authenticate.
pub(super) fn parse_file(bytes: &[u8]) -> Result<SealedFile<'_>> {
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
    if version != FORMAT_VERSION && version != FORMAT_VERSION_1 {
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
    Ok(SealedFile { version, driver_id, kdf, nonce, header: &bytes[..header_len], sealed: &bytes[header_len..] })
}

/// Checks a driver or fleet id for a new vault: `1..=MAX_ID_LEN` bytes.
pub(super) fn check_id(id: &str, reason: &'static str) -> Result<()> {
    if (1..=MAX_ID_LEN).contains(&id.len()) {
        Ok(())
    } else {
        Err(Error::VaultInvalidInput(reason))
    }
}

/// Checks a device signing key for a new vault: `1..=MAX_SIGNING_KEY_LEN` bytes.
pub(super) fn check_signing_key(key: &[u8]) -> Result<()> {
    if (1..=MAX_SIGNING_KEY_LEN).contains(&key.len()) {
        Ok(())
    } else {
        Err(Error::VaultInvalidInput("the signing key must be 1 to 1024 bytes"))
    }
}

/// Checks enrollment templates: `1..=MAX_TEMPLATES` finite unit embeddings.
pub(super) fn check_templates(templates: &[Embedding]) -> Result<()> {
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
