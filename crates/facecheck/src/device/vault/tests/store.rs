//! The file on disk: the lock, crashes at every write step, stale temp files, the durable counter, deletion
//! and file modes.

use super::*;

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
fn vault_lock_is_a_flock_that_other_processes_see() {
    use rustix::fs::{flock, FlockOperation};
    let dir = TempDir::new("flock");
    let vault = create(&dir);
    // A second open file description of the lock file, as another process holds one: its exclusive flock is
    // refused while the vault is open (on Android too, where std's File::try_lock is unsupported).
    let other = fs::File::open(lock_path(&dir.vault())).expect("open the lock file");
    let refused = flock(&other, FlockOperation::NonBlockingLockExclusive).expect_err("the open vault holds the flock");
    assert_eq!(io::Error::from(refused).kind(), io::ErrorKind::WouldBlock);
    drop(vault);
    flock(&other, FlockOperation::NonBlockingLockExclusive).expect("the flock is released with the vault");
    // While another process holds it, the vault does not open.
    assert!(matches!(open(&dir, T0), Err(Error::VaultBusy)));
    flock(&other, FlockOperation::Unlock).expect("unlock");
    open(&dir, T0).expect("open once the other holder let go");
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
    assert_crash_safe("crash-failure", none, |v| v.record_failure(at(T0 + 60)).map(drop));
    assert_crash_safe(
        "crash-success",
        |v| {
            v.record_failure(at(T0 + 30)).expect("failure");
        },
        |v| v.record_success(at(T0 + 60)),
    );
    assert_crash_safe("crash-erase", none, |v| v.erase(at(T0 + 60)).map(drop));
    assert_crash_safe("crash-retention", none, |v| v.set_retention_days(30, at(T0 + 60)));
}

#[test]
fn vault_crash_during_create_leaves_no_vault_or_the_vault() {
    for step in STEPS {
        let dir = TempDir::new("crash-create");
        let result = Vault::create_inner(&dir.vault(), &kek(), init(), at(T0), Some(step));
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
fn vault_destroy_removes_the_files() {
    let dir = TempDir::new("destroy");
    let mut vault = create(&dir);
    vault.erase(at(T0)).expect("erase");
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
