//! Tests of the vault, one file per module of it; the helpers here make vaults in temporary directories, and the
//! tests of the vault as a whole (round trip, matching, creation, erasure, texts) are here too.

mod format;
mod lockout;
mod retention;
mod seal;
mod store;

use super::format::{KDF_RAW, MAX_SEALED_LEN, TAG_LEN, TEMPLATE_BYTES};
use super::retention::SECS_PER_DAY;
use super::store::{lock_path, temp_path};
use super::*;
use crate::pipeline::embed::EMBEDDING_LEN;
use ring::aead::NONCE_LEN;
use std::fs;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

const STEPS: [WriteStep; 5] =
    [WriteStep::CreateTemp, WriteStep::WriteTemp, WriteStep::SyncTemp, WriteStep::Rename, WriteStep::SyncDir];
const T0: u64 = 1_700_000_000;
/// How long before [`T0`] the test phone booted.
const BOOTED: u64 = 5_000;
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
    Vault::create(dir.vault(), &kek(), init(), at(T0)).expect("create the vault")
}

fn open(dir: &TempDir, now: u64) -> Result<Vault> {
    Vault::open(dir.vault(), &kek(), at(now))
}

/// A reading at wall-clock time `wall` on a phone that booted [`BOOTED`] seconds before [`T0`] and whose clocks
/// agree since.
fn at(wall: u64) -> Clock {
    Clock::new(wall, Some((wall + BOOTED).saturating_sub(T0)))
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
    vault.set_retention_days(200, at(T0 + 5)).expect("set retention");
    vault.record_failure(at(T0 + 10)).expect("record failure");
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
    assert_eq!(vault.lock_out(at(T0 + 20)), None);
    assert_eq!(vault.failures(), 1);
    assert!(vault.state.templates.iter().zip([unit(1), unit(2), unit(3)]).all(|(a, b)| a.0 == b.0));
    assert_eq!(dir.entries(), ["driver.vault", "driver.vault.lock"]);
}

#[test]
fn vault_matches_only_inside_the_crate() {
    let dir = TempDir::new("match");
    let mut vault = create(&dir);
    assert_eq!(vault.best_distance(&unit(2), at(T0)).expect("enrolled"), 0.0);
    let other = unit(99);
    let best = vault.best_distance(&other, at(T0)).expect("enrolled");
    let expected = [unit(1), unit(2), unit(3)].iter().map(|t| t.distance(&other)).fold(f32::INFINITY, f32::min);
    assert_eq!(best, expected);
    let mean = Embedding::mean(&[unit(1), unit(2), unit(3)]).expect("mean");
    assert_eq!(vault.mean_distance(&other, at(T0)).expect("enrolled"), mean.distance(&other));
    vault.erase(at(T0)).expect("erase");
    assert!(matches!(vault.best_distance(&other, at(T0)), Err(Error::VaultNotEnrolled)));
    assert!(matches!(vault.mean_distance(&other, at(T0)), Err(Error::VaultNotEnrolled)));
}

#[test]
fn vault_create_refuses_an_existing_vault_and_leaves_it_untouched() {
    let dir = TempDir::new("exists");
    drop(create(&dir));
    let before = fs::read(dir.vault()).expect("read");
    assert!(matches!(Vault::create(dir.vault(), &kek(), init(), at(T0 + 1)), Err(Error::VaultExists)));
    assert_eq!(fs::read(dir.vault()).expect("read"), before);

    // Also a file that is not a vault, and a corrupt vault.
    let other = TempDir::new("exists-other");
    fs::write(other.vault(), b"not a vault").expect("write");
    assert!(matches!(Vault::create(other.vault(), &kek(), init(), at(T0)), Err(Error::VaultExists)));
    assert_eq!(fs::read(other.vault()).expect("read"), b"not a vault");
}

#[test]
fn vault_erase_wipes_the_template_and_reserves_a_counter() {
    let dir = TempDir::new("erase");
    let mut vault = create(&dir);
    vault.next_counter().expect("counter");
    let ticket = vault.erase(at(T0 + 50)).expect("erase");
    assert_eq!(ticket.driver_id, DRIVER);
    assert_eq!(ticket.fleet_id, FLEET);
    assert_eq!(ticket.counter, 2);
    assert_eq!(ticket.erased_at, T0 + 50);
    assert!(!format!("{ticket:?}").contains(DRIVER));
    assert!(!vault.is_enrolled());
    drop(vault);

    let mut vault = open(&dir, T0 + 60).expect("reopen");
    assert!(!vault.is_enrolled());
    assert_eq!(vault.counter(), 2);
    assert_eq!(vault.next_counter().expect("counter"), 3);
    // Erasing twice is allowed and reserves another value.
    assert_eq!(vault.erase(at(T0 + 70)).expect("erase").counter, 4);
}

#[test]
fn vault_erased_stays_without_template_and_a_new_enrollment_is_a_new_vault() {
    let dir = TempDir::new("erased");
    let mut vault = create(&dir);
    vault.erase(at(T0 + 2)).expect("erase");
    assert!(matches!(vault.record_success(at(T0 + 3)), Err(Error::VaultNotEnrolled)));
    assert!(matches!(vault.best_distance(&unit(1), at(T0 + 3)), Err(Error::VaultNotEnrolled)));
    drop(vault);
    let vault = open(&dir, T0 + 5).expect("reopen");
    assert!(!vault.is_enrolled());
    assert_eq!(vault.template_count(), 0);
    // No method puts a template back into it: enrolling again means destroying it and creating a new vault.
    vault.destroy().expect("destroy");
    let mut fresh = init();
    fresh.templates = vec![unit(5), unit(6)];
    let mut vault = Vault::create(dir.vault(), &kek(), fresh, at(T0 + 6)).expect("create anew");
    assert_eq!((vault.enrolled_at(), vault.counter()), (Some(T0 + 6), 0));
    assert_eq!(vault.best_distance(&unit(6), at(T0 + 7)).expect("enrolled"), 0.0);
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
        assert!(matches!(Vault::create(dir.vault(), &kek(), bad, at(T0)), Err(Error::VaultInvalidInput(_))), "{name}");
        assert!(!dir.vault().exists(), "{name}");
    }
    let mut long = init();
    long.driver_id = "d".repeat(MAX_ID_LEN);
    long.fleet_id = "f".repeat(MAX_ID_LEN);
    long.templates = (0..MAX_TEMPLATES as u64).map(unit).collect();
    drop(Vault::create(dir.vault(), &kek(), long, at(T0)).expect("the largest vault"));
    let vault = open(&dir, T0).expect("reopen the largest vault");
    assert_eq!(vault.template_count(), MAX_TEMPLATES);
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
        Error::VaultLockedOut,
    ];
    for error in errors {
        let text = error.to_string();
        assert!(!text.is_empty());
        assert!(!text.contains(DRIVER) && !text.contains(FLEET) && !text.contains("driver.vault"), "{text}");
    }
}
