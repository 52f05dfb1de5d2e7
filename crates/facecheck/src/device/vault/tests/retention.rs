//! Retention: the limits, and the wipe applied on opening and by every operation that takes a time.

use super::*;

#[test]
fn vault_retention_defaults_to_a_year_and_refuses_more_than_three() {
    let dir = TempDir::new("retention-limits");
    let mut vault = create(&dir);
    assert_eq!(vault.retention_days(), DEFAULT_RETENTION_DAYS);
    assert_eq!(vault.retention_deadline(), Some(T0 + 365 * DAY));
    for days in [0, MAX_RETENTION_DAYS + 1, u32::MAX] {
        assert!(matches!(vault.set_retention_days(days, at(T0)), Err(Error::VaultRetention { .. })));
    }
    assert_eq!(vault.retention_days(), DEFAULT_RETENTION_DAYS);
    vault.set_retention_days(MAX_RETENTION_DAYS, at(T0)).expect("three years");
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
        ("record_failure", |v| v.record_failure(at(T0 + 365 * DAY)).map(drop)),
        ("record_success", |v| v.record_success(at(T0 + 365 * DAY))),
        ("best_distance", |v| v.best_distance(&unit(1), at(T0 + 365 * DAY)).map(drop)),
        ("set_retention_days", |v| v.set_retention_days(400, at(T0 + 365 * DAY))),
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
    vault.record_success(at(late - 1)).expect("success");
    assert!(vault.best_distance(&unit(1), at(late + DAY)).is_ok());
    // A shorter period applies at once.
    vault.set_retention_days(1, at(late + DAY)).expect("shorten");
    assert!(!vault.is_enrolled());
}
