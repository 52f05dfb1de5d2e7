//! The lock-out, through the vault that records it: cumulative and escalating failures, time served on the
//! monotonic clock, restarts and reboots, and the last step that only a new enrollment lifts.

use super::*;

/// Records failures until the vault is locked out, serving each timed lock-out right after it starts (the clocks
/// agreeing); returns the time of the last failure.
fn fail_until_locked(vault: &mut Vault, mut now: u64, failures: u32) -> u64 {
    for _ in 0..failures {
        if let Some(LockOut::Until(until)) = vault.lock_out(at(now)) {
            now = until;
        }
        now += 1;
        vault.record_failure(at(now)).expect("failure");
    }
    now
}

#[test]
fn vault_paced_failures_still_lock() {
    // One impostor attempt every 46 seconds: never five within three minutes, which the old sliding window
    // needed. Failures count from the last match, so the fifth locks.
    let dir = TempDir::new("paced");
    let mut vault = create(&dir);
    for i in 0..4 {
        assert_eq!(vault.record_failure(at(T0 + 46 * i)).expect("failure"), None, "failure {}", i + 1);
    }
    let fifth = T0 + 46 * 4;
    assert_eq!(vault.record_failure(at(fifth)).expect("failure"), Some(LockOut::Until(fifth + SHORT_LOCKOUT_SECS)));
    assert_eq!(vault.failures(), 5);
}

#[test]
fn vault_lock_outs_escalate_and_the_twentieth_failure_locks_until_reenrollment() {
    let dir = TempDir::new("escalate");
    let mut vault = create(&dir);
    let mut now = T0;
    for failure in 1..=FINAL_LOCKOUT_FAILURES {
        now = fail_until_locked(&mut vault, now, 1);
        let expected = match failure {
            1..=4 => None,
            5..=9 => Some(LockOut::Until(now + SHORT_LOCKOUT_SECS)),
            10..=19 => Some(LockOut::Until(now + LONG_LOCKOUT_SECS)),
            _ => Some(LockOut::UntilReenrolled),
        };
        assert_eq!(vault.lock_out(at(now)), expected, "after failure {failure}");
        assert_eq!(vault.failures(), failure);
        if let Some(LockOut::Until(until)) = expected {
            assert!(vault.lock_out(at(until - 1)).is_some(), "failure {failure}: over a second early");
            assert_eq!(vault.lock_out(at(until)), None, "failure {failure}: not over when served");
        }
    }
    // Twenty comparisons took at least 5 short and 10 long lock-outs.
    assert!(now - T0 >= 5 * SHORT_LOCKOUT_SECS + 10 * LONG_LOCKOUT_SECS);

    // The last lock-out: attempts are neither counted nor compared, a match cannot be recorded, and no amount of
    // time, restart or reboot lifts it.
    assert_eq!(vault.record_failure(at(now + 10)).expect("refused"), Some(LockOut::UntilReenrolled));
    assert_eq!(vault.failures(), FINAL_LOCKOUT_FAILURES);
    assert!(matches!(vault.record_success(at(now + 20)), Err(Error::VaultLockedOut)));
    drop(vault);
    let months = Clock::new(now + 300 * DAY, Some(30));
    let vault = Vault::open(dir.vault(), &kek(), months).expect("reopen after a reboot");
    assert_eq!(vault.lock_out(months), Some(LockOut::UntilReenrolled));
    assert!(vault.is_enrolled());
}

#[test]
fn vault_only_a_match_resets_the_failures() {
    let dir = TempDir::new("reset");
    let mut vault = create(&dir);
    let now = fail_until_locked(&mut vault, T0, 7);
    assert_eq!(vault.failures(), 7);
    // A day later (the lock-out long served), the failures still count: the next one locks again.
    let later = now + DAY;
    assert_eq!(vault.lock_out(at(later)), None);
    assert_eq!(vault.record_failure(at(later)).expect("failure"), Some(LockOut::Until(later + SHORT_LOCKOUT_SECS)));
    let served = later + SHORT_LOCKOUT_SECS;
    vault.record_success(at(served)).expect("a match");
    assert_eq!((vault.failures(), vault.lock_out(at(served))), (0, None));
    assert_eq!(vault.last_checkin_at(), Some(served));
    assert_eq!(vault.retention_deadline(), Some(served + 365 * DAY));
    // Four more failures do not lock: the earlier ones no longer count.
    assert_eq!(fail_until_locked(&mut vault, served, 4), served + 4);
    assert_eq!(vault.lock_out(at(served + 4)), None);
    drop(vault);
    assert_eq!(open(&dir, served + 5).expect("reopen").failures(), 4);
}

#[test]
fn vault_setting_the_wall_clock_never_shortens_a_lock_out() {
    let dir = TempDir::new("wall-jump");
    let mut vault = create(&dir);
    let now = fail_until_locked(&mut vault, T0, LONG_LOCKOUT_FAILURES);
    let start = at(now);
    assert_eq!(vault.lock_out(start), Some(LockOut::Until(now + LONG_LOCKOUT_SECS)));
    let boot = start.elapsed.expect("a monotonic reading");

    // Ten seconds later by the monotonic clock, the wall clock set a day ahead: ten seconds served, and the
    // estimated end moves with the wall clock.
    let ahead = Clock::new(now + DAY, Some(boot + 10));
    assert_eq!(vault.lock_out(ahead), Some(LockOut::Until(now + DAY + LONG_LOCKOUT_SECS - 10)));
    // Reopened at that reading (the time served written), then the wall clock set back before the lock-out began:
    // no progress while it catches up (fail closed), the monotonic clock's at most.
    drop(vault);
    let mut vault = Vault::open(dir.vault(), &kek(), ahead).expect("reopen");
    let back = Clock::new(now - DAY, Some(boot + 20));
    assert_eq!(vault.lock_out(back), Some(LockOut::Until(now - DAY + LONG_LOCKOUT_SECS - 10)));
    vault.record_failure(back).expect("refused while locked");
    // Only when both clocks have moved on by the rest does it end.
    let rest = LONG_LOCKOUT_SECS - 10;
    assert!(vault.lock_out(Clock::new(now - DAY + rest, Some(boot + 20 + rest - 1))).is_some());
    assert!(vault.lock_out(Clock::new(now - DAY + rest - 1, Some(boot + 20 + rest))).is_some());
    assert_eq!(vault.lock_out(Clock::new(now - DAY + rest, Some(boot + 20 + rest))), None);
}

#[test]
fn vault_after_a_reboot_only_the_time_since_boot_counts() {
    let dir = TempDir::new("reboot");
    let mut vault = create(&dir);
    let now = fail_until_locked(&mut vault, T0, LONG_LOCKOUT_FAILURES);
    let start = at(now);
    // 600 s served before the phone is switched off (written at this reading), then off for an hour (the wall
    // clock moves, the monotonic clock restarts at boot).
    let before_off = Clock::new(now + 600, Some(start.elapsed.expect("monotonic") + 600));
    drop(vault);
    drop(Vault::open(dir.vault(), &kek(), before_off).expect("reopen"));
    let booted = Clock::new(now + 600 + 3600 + 40, Some(40));
    let mut vault = Vault::open(dir.vault(), &kek(), booted).expect("reopen after the reboot");
    // 600 s before, 40 s since boot: the hour switched off does not count.
    assert_eq!(vault.lock_out(booted), Some(LockOut::Until(booted.wall + LONG_LOCKOUT_SECS - 640)));
    let end = Clock::new(booted.wall + LONG_LOCKOUT_SECS - 640, Some(40 + LONG_LOCKOUT_SECS - 640));
    assert_eq!(vault.lock_out(end), None);
    assert_eq!(vault.record_failure(end).expect("failure"), Some(LockOut::Until(end.wall + LONG_LOCKOUT_SECS)));
}

#[test]
fn vault_without_a_monotonic_clock_serves_on_the_wall_clock() {
    let dir = TempDir::new("wall-only");
    let mut vault = create(&dir);
    for i in 0..SHORT_LOCKOUT_FAILURES {
        vault.record_failure(Clock::wall_only(T0 + u64::from(i))).expect("failure");
    }
    let last = T0 + u64::from(SHORT_LOCKOUT_FAILURES) - 1;
    let until = last + SHORT_LOCKOUT_SECS;
    assert_eq!(vault.lock_out(Clock::wall_only(last)), Some(LockOut::Until(until)));
    assert!(vault.lock_out(Clock::wall_only(until - 1)).is_some());
    assert_eq!(vault.lock_out(Clock::wall_only(until)), None);
    // A monotonic reading later on counts from boot only: 30 s since boot serve 30 s, whatever the wall clock.
    assert_eq!(vault.lock_out(Clock::new(until, Some(30))), Some(LockOut::Until(until + SHORT_LOCKOUT_SECS - 30)));
}

#[test]
fn vault_lock_out_survives_a_restart() {
    let dir = TempDir::new("restart");
    let mut vault = create(&dir);
    let now = fail_until_locked(&mut vault, T0, SHORT_LOCKOUT_FAILURES);
    drop(vault);
    let vault = open(&dir, now + 30).expect("reopen");
    assert_eq!(vault.lock_out(at(now + 30)), Some(LockOut::Until(now + SHORT_LOCKOUT_SECS)));
    assert_eq!(vault.failures(), SHORT_LOCKOUT_FAILURES);
    assert_eq!(vault.lock_out(at(now + SHORT_LOCKOUT_SECS)), None);
}
