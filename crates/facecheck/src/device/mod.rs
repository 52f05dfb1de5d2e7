//! The device's trust state: what one phone holds for one driver and the rules it applies before it signs.
//!
//! [`vault`] keeps the template, the device signing key, the check-in counter and the lock-out state in one sealed
//! file; [`checkin`] is the policy that runs the pipeline for enrollment and check-in against the vault and signs
//! what the fleet receives, and [`checkin_active`] the check-in with the active head-turn challenge; [`review`] signs a driver's request for a person to look at a check-in; [`clock`] is the time both take from the caller (the wall clock, and a monotonic clock
//! where the platform has one). The pipeline knows nothing of them; the vault knows nothing of the pipeline beyond
//! the embedding type it stores.

pub mod checkin;
pub mod checkin_active;
pub mod clock;
pub mod review;
pub mod vault;
