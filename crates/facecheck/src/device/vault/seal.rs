//! Sealing: the key-encryption key (KEK), and AES-256-GCM over the vault's contents with the whole header as
//! additional authenticated data.
//!
//! The KEK comes from the platform ([`Kek::from_bytes`], [`Kek::generate`]) or from a passphrase through
//! PBKDF2-HMAC-SHA256 with [`PBKDF2_ITERATIONS`] rounds and a per-vault salt kept in the header
//! ([`Kek::from_passphrase`]). Every write seals under a fresh random nonce. AES-GCM cannot tell a wrong key
//! from a tampered file: both are [`Error::VaultUnreadable`]. The plaintext only ever lives in [`Zeroizing`]
//! buffers allocated at their final size (the tag included), so sealing in place leaves no stray copy.

use super::format::{self, Kdf, SealedFile, State, V1LockOut, SALT_LEN, TAG_LEN};
use crate::{Error, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::num::NonZeroU32;
use zeroize::Zeroizing;

/// Length of a key-encryption key, in bytes (AES-256).
pub const KEK_LEN: usize = 32;
/// PBKDF2-HMAC-SHA256 rounds for [`Kek::from_passphrase`] (the OWASP 2023 recommendation for this PRF).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

const PBKDF2_ROUNDS: NonZeroU32 = NonZeroU32::new(PBKDF2_ITERATIONS).expect("the round count is a nonzero constant");

/// The 32-byte key-encryption key (KEK) that seals the vault.
///
/// The platform supplies it: on Android a key unwrapped by the Keystore, on desktops a key file
/// ([`Kek::generate`] then [`Kek::secret_bytes`] to write it) or a passphrase ([`Kek::from_passphrase`]). The bytes
/// live on the heap, are never copied by moves, and are wiped when the `Kek` is dropped. `Debug` shows nothing.
///
/// [`Vault::create`](super::Vault::create) and [`Vault::open`](super::Vault::open) borrow it and keep their own
/// copy (on the heap, wiped on drop as well) for as long as the vault is open, so the caller keeps its key whether
/// the call succeeds or fails.
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
    /// with [`Vault::read_salt`](super::Vault::read_salt) before reopening. (This is deliberately slow: a fraction
    /// of a second.)
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

    /// How the key was obtained, as the header of a vault sealed with it records.
    pub(super) fn kdf(&self) -> Kdf {
        self.kdf
    }

    /// A copy for a vault to keep: a new heap allocation, wiped on drop like this one.
    pub(super) fn duplicate(&self) -> Kek {
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

/// The whole vault file for `state`: the header (with `driver_id` and `kdf`) and the contents sealed with `kek`
/// under a fresh random nonce.
pub(super) fn seal(kek: &Kek, kdf: Kdf, driver_id: &str, state: &State) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| Error::VaultCrypto("the random number generator failed"))?;
    let mut sealed = state.encode();
    let sealed_len = sealed.len() + TAG_LEN;
    let mut file = format::header(driver_id, kdf, &nonce, sealed_len)?;
    // `sealed` has room for the tag, so sealing in place never reallocates the plaintext.
    kek.aead_key()?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&file[..]), &mut *sealed)
        .map_err(|_| Error::VaultCrypto("sealing failed"))?;
    file.extend_from_slice(&sealed);
    Ok(file)
}

/// Authenticates and decrypts a parsed file with `kek`, and decodes its contents (with a version-1 file's lock-out
/// apart, see [`State::decode`]).
pub(super) fn unseal(kek: &Kek, file: &SealedFile<'_>) -> Result<(State, Option<V1LockOut>)> {
    let mut buffer = Zeroizing::new(file.sealed.to_vec());
    let plain = kek
        .aead_key()?
        .open_in_place(Nonce::assume_unique_for_key(file.nonce), Aad::from(file.header), &mut buffer[..])
        .map_err(|_| Error::VaultUnreadable)?;
    State::decode(plain, file.version).ok_or(Error::VaultCorrupt("the sealed contents are malformed"))
}
