//! The check-in with the active challenge: the driver turns the head as the fleet's nonce asks, and the device
//! signs the decision with `lvm: "active"`.
//!
//! [`check_in_active`] follows [`check_in_with`](crate::checkin::check_in_with) step for step, with the active check
//! in place of the choice and screening of one frame:
//! 1. the challenge, then the frames' bounds (count, sizes, bytes in all, capture times increasing: see
//!    [`Engine::check_active_timed`]) are checked; no frames, or frames out of bounds, are an error and nothing is
//!    examined, recorded or signed; so are a vault without a template and one older than the fleet's counter
//!    ([`Error::VaultRolledBack`]);
//! 2. locked out: `locked_out` is signed without looking at the frames;
//! 3. the poses come from the nonce ([`ActiveChallenge::from_nonce`]), and the active check runs on the frames
//!    ([`Engine::check_active_timed`]: one face throughout, the poses in order and in time, the posed faces the
//!    frontal face's person, the frontal frame through the passive check);
//! 4. `live`: the frontal frame's face is compared with the template as a passive check-in compares its frame,
//!    `match` or `no_match` (`live: true`). Anything else (`too_few_frames`, `pose_not_reached`, `too_slow`,
//!    `face_changed`, `passive_failed`) is signed `spoof_suspected` with `live: false`;
//! 5. `no_match` and `spoof_suspected` are failed attempts, recorded as a passive check-in records them: they count
//!    toward the lock-out, so a recording replayed until it guesses the challenge (one in six) or a print tried in
//!    every light gets the same few tries as anything else. Unlike a passive check-in there are no retakes: every
//!    examined sequence is an attempt;
//! 6. the counter is advanced and persisted, then the attestation signed, with `lvm: "active"`.
//!
//! The result tells the caller the active decision ([`ActiveCheckIn::active`]) so that the app can advise the
//! driver (turn further, faster, alone in the picture); it carries no score, distance, pose angle or image data,
//! and the token carries only the outcome.

use crate::device::checkin::{claims, device_key, is_enrolled_at, Challenge, CheckIn, Clock, Outcome, Verdict};
use crate::device::vault::Vault;
use crate::pipeline::active::{check_timed, ActiveDecision};
use crate::pipeline::challenge::ActiveChallenge;
use crate::pipeline::engine::Engine;
use crate::pipeline::frame::TimedFrame;
use crate::{Error, Result};
use facecheck_attest::LivenessMethod;

/// What an active check-in produced: the check-in as signed, and the active check's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCheckIn {
    /// The signed attestation and what to tell the driver, as for a passive check-in.
    pub check_in: CheckIn,
    /// The active check's decision; `None` when check-in was locked out and no frame was examined.
    pub active: Option<ActiveDecision>,
}

impl ActiveCheckIn {
    /// A sentence for the driver, in English: the check-in's, with advice for a failed active check in place of the
    /// passive check's wording.
    pub fn message(&self) -> String {
        let text = self.check_in.message();
        let advice = match self.active {
            Some(ActiveDecision::TooFewFrames) => {
                "your face was not seen in enough frames: keep your face, alone, \
                                                   inside the guide"
            }
            Some(ActiveDecision::PoseNotReached) => {
                "the head turns asked for were not seen, in order: face the \
                                                     camera, then turn as each prompt says"
            }
            Some(ActiveDecision::TooSlow) => "the turns took too long: turn as soon as each prompt appears",
            Some(ActiveDecision::FaceChanged) => {
                "the face changed during the turns: keep the camera still and \
                                                  your face inside the guide"
            }
            Some(ActiveDecision::PassiveFailed) => {
                "the face looks like a photo or a screen, or the picture is too \
                                                    poor: try in better light"
            }
            Some(ActiveDecision::Live) | None => return text,
        };
        match self.check_in.lock_out {
            Some(_) => {
                let (_, lock_out) = text.split_once(" Too many").unwrap_or(("", ""));
                format!("Not checked in: {advice}. The attempt is reported for review by a person. Too many{lock_out}")
            }
            None => format!("Not checked in: {advice}. The attempt is reported for review by a person."),
        }
    }
}

/// Runs one check-in with the active challenge the fleet's `challenge.nonce` determines (see the
/// [module documentation](self)), given the fleet's `last_counter` (anti-rollback, as
/// [`check_in_with`](crate::checkin::check_in_with)) and the timed frames, in the order they were captured.
///
/// Errors (nothing is examined, recorded or signed): [`Error::InvalidChallenge`], [`Error::CheckinFrameCount`] (no
/// frames, or more than [`MAX_ACTIVE_FRAMES`](crate::active::MAX_ACTIVE_FRAMES)), [`Error::FramesTooLarge`],
/// [`Error::Selfie`] (a frame out of bounds, or unreadable), [`Error::FramesOutOfOrder`],
/// [`Error::VaultNotEnrolled`], [`Error::VaultRolledBack`], model and vault errors.
pub fn check_in_active(
    engine: &Engine,
    vault: &mut Vault,
    challenge: &Challenge<'_>,
    fleet_last_counter: Option<u64>,
    frames: &[TimedFrame<'_>],
    now: Clock,
) -> Result<ActiveCheckIn> {
    challenge.check()?;
    if frames.is_empty() {
        return Err(Error::CheckinFrameCount { given: 0, max: crate::active::MAX_ACTIVE_FRAMES });
    }
    check_timed(frames)?;
    if !is_enrolled_at(vault, now.wall) {
        return Err(Error::VaultNotEnrolled);
    }
    if let Some(fleet_counter) = fleet_last_counter.filter(|&fleet| vault.counter() < fleet) {
        return Err(Error::VaultRolledBack { vault_counter: vault.counter(), fleet_counter });
    }
    let key = device_key(vault)?;
    let (verdict, active, attempts, lock_out) = match vault.lock_out(now) {
        Some(lock_out) => (Verdict { outcome: Outcome::LockedOut, live: false, retake: None }, None, 0, Some(lock_out)),
        None => {
            let attempts = vault.failures().saturating_add(1);
            let checked = engine.check_active_timed(&ActiveChallenge::from_nonce(challenge.nonce), frames)?;
            let verdict = match checked.frontal_embedding().filter(|_| checked.decision == ActiveDecision::Live) {
                Some(probe) => {
                    // The distance goes no further than this comparison.
                    let is_match = vault.mean_distance(probe, now)? < engine.threshold();
                    let outcome = if is_match { Outcome::Match } else { Outcome::NoMatch };
                    Verdict { outcome, live: true, retake: None }
                }
                None => Verdict { outcome: Outcome::SpoofSuspected, live: false, retake: None },
            };
            let lock_out = match verdict.outcome {
                Outcome::Match => {
                    vault.record_success(now)?;
                    None
                }
                _ => vault.record_failure(now)?,
            };
            (verdict, Some(checked.decision), attempts, lock_out)
        }
    };
    let counter = vault.next_counter()?;
    let mut claims = claims(vault.driver_id(), vault.fleet_id(), challenge, now.wall, counter, &verdict, attempts);
    claims.liveness_method = LivenessMethod::Active;
    let check_in =
        CheckIn { token: key.sign(&claims), outcome: verdict.outcome, retake: None, lock_out, issued_at: now.wall };
    Ok(ActiveCheckIn { check_in, active })
}
