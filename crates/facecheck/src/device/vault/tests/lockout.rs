//! The lock-out counter, through the vault that records it.

use super::*;

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
