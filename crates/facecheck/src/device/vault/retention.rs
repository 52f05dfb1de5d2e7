//! Retention: how long a template may stay on the phone without being used.
//!
//! The template is wiped, and the vault rewritten as not enrolled, once the retention period (in days, set per
//! vault, [`DEFAULT_RETENTION_DAYS`] for a new one, at most [`MAX_RETENTION_DAYS`]) has passed since the later of
//! the enrollment and the last successful check-in. A due wipe is an erasure: the device key, the ids, the counter
//! and the lock-out state stay only until it is finished like one (the check-in policy's `erase` signs the
//! receipt, then the file and its device key are destroyed and the caller deletes the key-encryption key); a new
//! enrollment makes a new vault under a new key.
//!
//! This file holds the rule only; the vault applies it, in the same atomic write as the operation, in every
//! operation that takes a time (opening included), so a wipe that is due is on disk before anything else happens.

/// Retention period of a new vault, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// Longest retention period accepted, in days (three years).
pub const MAX_RETENTION_DAYS: u32 = 3 * 365;

pub(super) const SECS_PER_DAY: u64 = 86_400;

/// Whether a retention period of `days` is allowed: `1..=MAX_RETENTION_DAYS`.
pub(super) fn allows(days: u32) -> bool {
    (1..=MAX_RETENTION_DAYS).contains(&days)
}

/// When a template enrolled at `enrolled_at` (`None`: no template) and last used at `last_checkin_at` is wiped
/// under a period of `days`, unix seconds.
pub(super) fn deadline(days: u32, enrolled_at: Option<u64>, last_checkin_at: Option<u64>) -> Option<u64> {
    let start = enrolled_at?.max(last_checkin_at.unwrap_or(0));
    Some(start.saturating_add(u64::from(days) * SECS_PER_DAY))
}

/// Whether the wipe at `deadline` is due at `now`.
pub(super) fn is_due(deadline: Option<u64>, now: u64) -> bool {
    deadline.is_some_and(|deadline| now >= deadline)
}
