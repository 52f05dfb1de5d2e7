//! The lock-out counter: how failed check-in attempts add up to a lock-out, and when it ends.
//!
//! The rule, as the phone enforces it: a failed attempt (a `no_match` or a `spoof_suspected`, as the check-in
//! policy decides) is recorded with its time; attempts older than [`LOCKOUT_WINDOW_SECS`] no longer count; the
//! [`LOCKOUT_FAILURES`]th attempt that still counts locks check-in until [`LOCKOUT_SECS`] after it and clears the
//! list. While locked out, attempts are not recorded and the lock-out is not extended. A successful check-in
//! clears the list.
//!
//! This file holds the rule only, as functions of the two fields the vault keeps for it (the recent failures and
//! the end of the lock-out). The vault calls them inside its atomic writes, so a recorded attempt is on disk before
//! the attempt's token is signed; the times are the `now` the caller passes (there is no hidden clock).

/// Failed attempts older than this many seconds no longer count towards a lock-out.
pub const LOCKOUT_WINDOW_SECS: u64 = 3 * 60;
/// This many failed attempts within [`LOCKOUT_WINDOW_SECS`] lock the vault out.
pub const LOCKOUT_FAILURES: usize = 5;
/// Length of a lock-out, in seconds.
pub const LOCKOUT_SECS: u64 = 30 * 60;

/// The end of the lock-out recorded as `locked_until`, if it is still running at `now`.
pub(super) fn active(locked_until: Option<u64>, now: u64) -> Option<u64> {
    locked_until.filter(|&until| now < until)
}

/// How many of the recorded `failures` still count towards a lock-out at `now`.
pub(super) fn recent(failures: &[u64], now: u64) -> usize {
    failures.iter().filter(|&&t| now.saturating_sub(t) <= LOCKOUT_WINDOW_SECS).count()
}

/// Records a failed attempt at `now`: prunes the attempts that no longer count, adds this one, and on the
/// [`LOCKOUT_FAILURES`]th starts a lock-out and clears the list. The caller has checked that no lock-out runs.
pub(super) fn record_failure(failures: &mut Vec<u64>, locked_until: &mut Option<u64>, now: u64) {
    failures.retain(|&t| now.saturating_sub(t) <= LOCKOUT_WINDOW_SECS);
    failures.push(now);
    if failures.len() >= LOCKOUT_FAILURES {
        failures.clear();
        *locked_until = Some(now.saturating_add(LOCKOUT_SECS));
    }
}

/// A successful check-in: the failed attempts no longer count.
pub(super) fn record_success(failures: &mut Vec<u64>) {
    failures.clear();
}
