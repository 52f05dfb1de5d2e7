//! The lock-out: how failed check-in attempts add up, what each one costs, and how a lock-out is served.
//!
//! The rule, as the phone enforces it:
//! - a failed attempt (a `no_match` or a `spoof_suspected`, as the check-in policy decides) adds one to the count of
//!   failures **since the last `match`**; only a `match` sets it back to zero (retakes, time, restarts and lock-outs
//!   do not), so pacing the attempts buys nothing;
//! - from the [`SHORT_LOCKOUT_FAILURES`]th failure on, every failure locks check-in: for [`SHORT_LOCKOUT_SECS`]
//!   up to the [`LONG_LOCKOUT_FAILURES`]th, then for [`LONG_LOCKOUT_SECS`], and the [`FINAL_LOCKOUT_FAILURES`]th
//!   locks it for good. Nothing on the phone lifts that last lock-out: the only way out is to erase and enroll
//!   again, and a new enrollment is worth something only once the fleet has registered its new device key, which
//!   takes a new enrollment code from the fleet's admin (the fleet's decision). Between two matches an impostor
//!   gets at most [`FINAL_LOCKOUT_FAILURES`] comparisons, and the last ten at least half an hour apart;
//! - while locked out, attempts are refused without a comparison (the policy signs `locked_out`) and not counted;
//! - a lock-out is served in the time [`Clock::progress_since`] counts (the smaller of the wall clock's and the
//!   monotonic clock's progress, only the time since boot across a reboot), so no change of the wall clock
//!   shortens it. The time served is added up at every reading the vault is given and written with the vault, so
//!   it survives restarts and reboots.
//!
//! This file holds the rule only, on the state the vault keeps for it ([`LockOutState`]); the vault applies it
//! inside its atomic writes, so a failure is on disk before the attempt's token is signed. What only the fleet can
//! do (count attempts across devices and restored copies, refuse a `match` after too many failures per day) is
//! its own attempt limit (`facecheck-fleet`).

use crate::device::clock::Clock;

/// From this many failures since the last match, every failure locks check-in.
pub const SHORT_LOCKOUT_FAILURES: u32 = 5;
/// How long each failure from the [`SHORT_LOCKOUT_FAILURES`]th locks check-in, in seconds.
pub const SHORT_LOCKOUT_SECS: u64 = 60;
/// From this many failures since the last match, every failure locks check-in for [`LONG_LOCKOUT_SECS`].
pub const LONG_LOCKOUT_FAILURES: u32 = 10;
/// How long each failure from the [`LONG_LOCKOUT_FAILURES`]th locks check-in, in seconds.
pub const LONG_LOCKOUT_SECS: u64 = 30 * 60;
/// The failure since the last match that locks check-in until a new enrollment.
pub const FINAL_LOCKOUT_FAILURES: u32 = 20;

/// A lock-out in force, as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockOut {
    /// Locked until about this wall-clock time, unix seconds: the reading's wall clock plus the time still to
    /// serve. It is an estimate for the driver; the lock-out ends when the time is served, whatever the wall clock.
    Until(u64),
    /// Locked until the driver is enrolled again, which the fleet has to approve.
    UntilReenrolled,
}

/// A lock-out being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lock {
    /// Lasts `length` seconds, of which `served` were served up to the reading `checked`.
    Timed { length: u64, served: u64, checked: Clock },
    /// Lasts until a new enrollment.
    UntilReenrolled,
}

/// What the vault keeps for the lock-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct LockOutState {
    /// Failed attempts since the last match.
    pub(super) failures: u32,
    /// The lock-out being served, if any.
    pub(super) lock: Option<Lock>,
}

/// How long the `failures`th failure since the last match locks check-in, if it does.
fn lock_for(failures: u32, now: Clock) -> Option<Lock> {
    let timed = |length| Some(Lock::Timed { length, served: 0, checked: now });
    match failures {
        n if n >= FINAL_LOCKOUT_FAILURES => Some(Lock::UntilReenrolled),
        n if n >= LONG_LOCKOUT_FAILURES => timed(LONG_LOCKOUT_SECS),
        n if n >= SHORT_LOCKOUT_FAILURES => timed(SHORT_LOCKOUT_SECS),
        _ => None,
    }
}

impl LockOutState {
    /// The lock-out in force at `now`, if any (nothing is written: [`serve`](LockOutState::serve) does that).
    pub(super) fn active(&self, now: Clock) -> Option<LockOut> {
        match self.lock? {
            Lock::UntilReenrolled => Some(LockOut::UntilReenrolled),
            Lock::Timed { length, served, checked } => {
                let remaining = length.saturating_sub(served.saturating_add(now.progress_since(&checked)));
                (remaining > 0).then(|| LockOut::Until(now.wall.saturating_add(remaining)))
            }
        }
    }

    /// Adds the time served since the last reading, up to `now`, and ends a timed lock-out that has been served.
    pub(super) fn serve(&mut self, now: Clock) {
        if let Some(Lock::Timed { length, served, checked }) = self.lock {
            let served = served.saturating_add(now.progress_since(&checked));
            self.lock = (served < length).then_some(Lock::Timed { length, served, checked: now });
        }
    }

    /// Records a failed attempt at `now` and starts the lock-out it earns. The caller has served the lock-out up to
    /// `now` ([`serve`](LockOutState::serve)) and checked that none is in force.
    pub(super) fn record_failure(&mut self, now: Clock) {
        self.failures = self.failures.saturating_add(1);
        self.lock = lock_for(self.failures, now);
    }

    /// A match: the failures no longer count. (No lock-out is in force: a locked-out attempt compares nothing.)
    pub(super) fn record_success(&mut self) {
        *self = LockOutState::default();
    }
}
