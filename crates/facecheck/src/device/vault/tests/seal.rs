//! Sealing: keys (raw, generated, from a passphrase), a wrong key, and the authenticated header.

use super::*;

#[test]
fn vault_wrong_key_is_unreadable() {
    let dir = TempDir::new("wrong-key");
    drop(create(&dir));
    let before = fs::read(dir.vault()).expect("read");
    let wrong = Kek::from_bytes(&[0x43; KEK_LEN]);
    assert!(matches!(Vault::open(dir.vault(), &wrong, at(T0)), Err(Error::VaultUnreadable)));
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
    let mut vault = Vault::create(dir.vault(), &a, init(), at(T0)).expect("create");
    vault.next_counter().expect("counter");
    drop(vault);
    let stored = Vault::read_salt(dir.vault()).expect("header").expect("a passphrase vault has a salt");
    assert_eq!(stored, salt);
    let vault = Vault::open(dir.vault(), &Kek::from_passphrase(b"correct horse battery staple", &stored), at(T0))
        .expect("reopen with the passphrase");
    assert_eq!(vault.counter(), 1);
    drop(vault);
    let wrong = Kek::from_passphrase(b"correct horse battery stapler", &stored);
    assert!(matches!(Vault::open(dir.vault(), &wrong, at(T0)), Err(Error::VaultUnreadable)));

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
    drop(Vault::create(dir.vault(), &kek(), init, at(T0)).expect("create"));
    let theirs = fs::read(dir.vault()).expect("read");
    let header_len = 13 + DRIVER.len() + NONCE_LEN + 4;
    let spliced = [&theirs[..header_len], &bytes[header_len..]].concat();
    assert!(matches!(open_err(&spliced), Error::VaultUnreadable));
}
