//! The file format: the documented layout, and every damaged, truncated, foreign or oversized file refused
//! with its own error and left untouched.

use super::*;

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
fn vault_malformed_contents_under_the_right_key_are_corrupt() {
    let dir = TempDir::new("malformed");
    let mut vault = create(&dir);
    // Templates without an enrollment time violate the layout's invariant.
    vault.state.enrolled_at = None;
    vault.write(&vault.state).expect("write");
    drop(vault);
    assert!(matches!(open(&dir, T0), Err(Error::VaultCorrupt("the sealed contents are malformed"))));
}
