//! The file format: the documented layout, version-1 files read and migrated, and every damaged, truncated,
//! foreign or oversized file refused with its own error and left untouched.

use super::*;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

#[test]
fn vault_file_layout_is_the_documented_one() {
    let bytes = valid_file();
    assert_eq!(&bytes[..8], b"FCVAULT\0");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 2);
    let n = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    assert_eq!(&bytes[12..12 + n], DRIVER.as_bytes());
    assert_eq!(bytes[12 + n], KDF_RAW);
    let len_at = 13 + n + NONCE_LEN;
    let sealed_len = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().expect("4 bytes")) as usize;
    assert_eq!(bytes.len(), len_at + 4 + sealed_len);
    let lock_out_len = 4 + 1 + 8 + 8 + 8 + 9;
    let plain_len = 2 + FLEET.len() + 2 + 83 + 8 + 4 + 2 * 9 + lock_out_len + 1 + 3 * 512;
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
    bytes[8..10].copy_from_slice(&3u16.to_le_bytes());
    assert!(matches!(open_err(&bytes), Error::VaultUnsupportedVersion(3)));
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
fn vault_malformed_contents_under_the_right_key_are_corrupt() {
    let dir = TempDir::new("malformed");
    let mut vault = create(&dir);
    // Templates without an enrollment time violate the layout's invariant.
    vault.state.enrolled_at = None;
    vault.write(&vault.state).expect("write");
    drop(vault);
    assert!(matches!(open(&dir, T0), Err(Error::VaultCorrupt("the sealed contents are malformed"))));
}

/// A version-1 vault file as version 1 wrote it (the layout in `mod.rs`), sealed with [`kek`]: counter 3, enrolled
/// at [`T0`] with `unit(1..=3)`, and the given lock-out end and recent failures.
fn v1_file(locked_until: Option<u64>, failures: &[u64]) -> Vec<u8> {
    let optional = |value: Option<u64>| [&[u8::from(value.is_some())][..], &value.unwrap_or(0).to_le_bytes()].concat();
    let mut plain = Vec::new();
    plain.extend_from_slice(&(FLEET.len() as u16).to_le_bytes());
    plain.extend_from_slice(FLEET.as_bytes());
    plain.extend_from_slice(&(signing_key().len() as u16).to_le_bytes());
    plain.extend_from_slice(&signing_key());
    plain.extend_from_slice(&3u64.to_le_bytes());
    plain.extend_from_slice(&DEFAULT_RETENTION_DAYS.to_le_bytes());
    plain.extend(optional(Some(T0)));
    plain.extend(optional(None));
    plain.extend(optional(locked_until));
    plain.push(failures.len() as u8);
    failures.iter().for_each(|t| plain.extend_from_slice(&t.to_le_bytes()));
    plain.push(3);
    for template in [unit(1), unit(2), unit(3)] {
        template.0.iter().for_each(|v| plain.extend_from_slice(&v.to_le_bytes()));
    }
    let nonce = [9u8; NONCE_LEN];
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&FORMAT_VERSION_1.to_le_bytes());
    file.extend_from_slice(&(DRIVER.len() as u16).to_le_bytes());
    file.extend_from_slice(DRIVER.as_bytes());
    file.push(KDF_RAW);
    file.extend_from_slice(&nonce);
    file.extend_from_slice(&((plain.len() + TAG_LEN) as u32).to_le_bytes());
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek().secret_bytes()).expect("key"));
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&file[..]), &mut plain).expect("seal");
    file.extend_from_slice(&plain);
    file
}

#[test]
fn vault_version_1_files_are_read_and_migrated() {
    // A lock-out still running: carried over with the wall-clock time it had left, with the five failures that
    // started it, and the file rewritten as version 2 at once.
    let dir = TempDir::new("v1");
    fs::write(dir.vault(), v1_file(Some(T0 + 1_000), &[T0 + 700])).expect("write");
    let vault = open(&dir, T0 + 400).expect("a version-1 vault opens");
    assert_eq!((vault.driver_id(), vault.fleet_id(), vault.counter()), (DRIVER, FLEET, 3));
    assert_eq!(vault.signing_key_pkcs8(), &signing_key()[..]);
    assert_eq!((vault.enrolled_at(), vault.last_checkin_at(), vault.template_count()), (Some(T0), None, 3));
    assert!(vault.state.templates.iter().zip([unit(1), unit(2), unit(3)]).all(|(a, b)| a.0 == b.0));
    assert_eq!(vault.lock_out(at(T0 + 400)), Some(LockOut::Until(T0 + 1_000)));
    assert_eq!(vault.failures(), 1 + SHORT_LOCKOUT_FAILURES);
    let migrated = snapshot(&vault);
    drop(vault);
    let bytes = fs::read(dir.vault()).expect("read");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), FORMAT_VERSION, "not rewritten as version 2");
    let vault = open(&dir, T0 + 400).expect("reopen");
    assert_eq!(snapshot(&vault), migrated);
    assert_eq!(vault.lock_out(at(T0 + 999)), Some(LockOut::Until(T0 + 1_000)));
    assert_eq!(vault.lock_out(at(T0 + 1_000)), None);

    // A lock-out over (or none): the recent failures only.
    for (locked_until, failures) in [(Some(T0 + 100), vec![T0 + 1, T0 + 2]), (None, vec![])] {
        let dir = TempDir::new("v1-unlocked");
        fs::write(dir.vault(), v1_file(locked_until, &failures)).expect("write");
        let vault = open(&dir, T0 + 400).expect("opens");
        assert_eq!((vault.lock_out(at(T0 + 400)), vault.failures()), (None, failures.len() as u32));
    }

    // Damage is still refused, and a failed open leaves the version-1 file as it was.
    let mut damaged = v1_file(None, &[]);
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(matches!(open_err(&damaged), Error::VaultUnreadable));
}
