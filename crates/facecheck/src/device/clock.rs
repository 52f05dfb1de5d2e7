//! The time the device side works with: a reading of the wall clock and, where the platform has one, of a
//! monotonic clock that counts from boot, both taken by the caller (the core never reads a clock).
//!
//! The wall clock dates what is signed (`iat`) and measures retention in days; the phone's owner can set it. The
//! monotonic reading ([`Clock::elapsed`]) is `CLOCK_BOOTTIME` on Linux and Android (`SystemClock.elapsedRealtime`
//! on Android): seconds since boot, counting through sleep, not settable by an app or the user, and restarting
//! from zero at every boot. How much time has passed between two readings ([`Clock::progress_since`]) is what a
//! lock-out is served with, counted so that no change of the wall clock shortens it:
//! - it is the smaller of the wall clock's and the monotonic clock's progress, so setting the wall clock forward
//!   gains nothing, and setting it back stops the progress (fail closed: it lengthens the lock-out);
//! - when the monotonic reading went backwards the phone has rebooted in between, and only the time since that boot
//!   counts (the time before the reboot is lost: fail closed again);
//! - when either reading has no monotonic part (a platform without one), only the wall clock counts: there, and
//!   only there, setting the clock forward shortens a lock-out.

/// A reading of the device's clocks, taken by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Clock {
    /// The wall clock, unix seconds.
    pub wall: u64,
    /// Seconds since boot on a clock that counts through sleep and that nobody sets (`CLOCK_BOOTTIME`,
    /// `SystemClock.elapsedRealtime() / 1000`); `None` where the platform has none.
    pub elapsed: Option<u64>,
}

impl Clock {
    /// A reading of both clocks.
    pub fn new(wall: u64, elapsed: Option<u64>) -> Clock {
        Clock { wall, elapsed }
    }

    /// A reading of the wall clock only, on a platform without a monotonic clock.
    pub fn wall_only(wall: u64) -> Clock {
        Clock { wall, elapsed: None }
    }

    /// The seconds that have passed since `earlier`, as a lock-out counts them (see the module documentation):
    /// never more than either clock says, only the time since boot across a reboot, zero if the wall clock went
    /// back.
    pub fn progress_since(&self, earlier: &Clock) -> u64 {
        let wall = self.wall.saturating_sub(earlier.wall);
        let monotonic = match (earlier.elapsed, self.elapsed) {
            (Some(before), Some(now)) if now >= before => now - before,
            // A reboot in between (or an earlier reading without a monotonic part): the time since boot only.
            (_, Some(now)) => now,
            (_, None) => return wall,
        };
        wall.min(monotonic)
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn clock_progress_is_the_smaller_of_the_two_clocks() {
        let start = Clock::new(1_000, Some(50));
        assert_eq!(Clock::new(1_060, Some(110)).progress_since(&start), 60);
        // The wall clock set forward or back: the monotonic clock's progress at most, none while the wall clock
        // is behind.
        assert_eq!(Clock::new(90_000, Some(110)).progress_since(&start), 60);
        assert_eq!(Clock::new(900, Some(110)).progress_since(&start), 0);
        assert_eq!(Clock::new(1_030, Some(110)).progress_since(&start), 30);
        // A reboot (the monotonic clock went back): the time since boot only.
        assert_eq!(Clock::new(5_000, Some(20)).progress_since(&start), 20);
        // Without a monotonic clock now: the wall clock's; without one before: the time since boot at most.
        assert_eq!(Clock::wall_only(1_060).progress_since(&start), 60);
        assert_eq!(Clock::new(1_060, Some(10)).progress_since(&Clock::wall_only(1_000)), 10);
        assert_eq!(Clock::wall_only(1_060).progress_since(&Clock::wall_only(1_000)), 60);
    }
}
