//! The active liveness check: a sequence of frames in which one face, the same person throughout, shows the head
//! poses of an [`ActiveChallenge`] in order, and faces the camera in a frame that passes the passive check.
//!
//! [`Engine::check_active_timed`] decides, from the frames alone ([`TimedFrame`]: JPEG, PNG or NV21 preview
//! buffers, each with its capture time; [`Engine::check_active`] takes stills without times):
//! 1. **Bounds.** Before anything is decoded: more than [`MAX_ACTIVE_FRAMES`] frames is an error
//!    ([`Error::CheckinFrameCount`]), and so are more than
//!    [`MAX_SEQUENCE_BYTES`](crate::pipeline::frame::MAX_SEQUENCE_BYTES) in all ([`Error::FramesTooLarge`]), a frame
//!    outside its bounds ([`FrameData::check`]: [`Error::Selfie`], numbered from one) and a capture time not after
//!    the one before it ([`Error::FramesOutOfOrder`]). A sequence lasting more than
//!    [`MAX_SEQUENCE_MS`] from its first frame to its last is [`ActiveDecision::TooSlow`], decided from the times
//!    alone. Then a frame that does not decode within the decoder's limits is [`Error::Selfie`]. Frames are decoded
//!    one at a time and not kept: the memory of a check is that of one frame, whatever their number.
//! 2. **Tracking.** In each frame the largest face is the subject's. A frame with no face (or degenerate
//!    landmarks) is skipped, and so is a frame with a second face at least a quarter of the subject's area (the
//!    quality gates' limit): both are counted. Between two consecutive frames with the subject's face, the boxes
//!    must overlap (intersection over union at least [`MIN_TRACK_IOU`]), or the face is taken to have been swapped:
//!    [`ActiveDecision::FaceChanged`]. Fewer than [`MIN_TRACKED_FRAMES`] tracked frames (a frontal one and one per
//!    pose) is [`ActiveDecision::TooFewFrames`].
//! 3. **The frontal frame.** Of the tracked frames facing the camera ([`PoseThresholds::is_frontal`]) that pass
//!    the quality gates, the one with the most confident face, then the sharpest, then the earliest, as a check-in
//!    picks its frame. None: [`ActiveDecision::PoseNotReached`] (the frontal view is the challenge's first step).
//! 4. **The poses, in order.** Each tracked frame is classed against the frontal frame's pitch
//!    ([`PoseThresholds::classify`]). Walking the frames in time order, the challenge's poses must appear in its
//!    order; a pose that is neither the one awaited nor the one just reached (held over several frames) fails the
//!    check at once, so that a recording that runs through every pose does not pass every challenge. Frames after
//!    the last pose is reached do not matter. Not all reached: [`ActiveDecision::PoseNotReached`]. The frame that
//!    reached each pose is the first of its run: the least turned. With times: the first pose must be reached
//!    within [`MAX_STEP_MS`] of the first tracked frame, and each next pose within [`MAX_STEP_MS`] of the one
//!    before, else [`ActiveDecision::TooSlow`].
//! 5. **Identity.** The frontal face and the face of each frame that reached a pose are embedded; each posed face
//!    must match the frontal one under the manifest's threshold ([`Engine::compare`]), else
//!    [`ActiveDecision::FaceChanged`]: someone else cannot do the turns for a photo held up for the frontal view.
//! 6. **Passive liveness** on the frontal frame ([`Engine::screen_image`]: gates, then the two MiniFASNet models):
//!    anything but `Passed` is [`ActiveDecision::PassiveFailed`]. It is run on that one frame only, so more frames
//!    give no more passive tries.
//!
//! Then [`ActiveDecision::Live`]. Matching against the enrolled template is not done here: the check-in policy
//! matches the frontal frame ([`ActiveVerdict::frontal_frame`]). The verdict carries the decision, a reason in
//! English, and per frame what was seen and its pose class: no score, distance, embedding or image data.
//!
//! Frames are taken as the camera sees the subject, not mirrored (a front camera's preview usually is: the app must
//! hand over the unmirrored frame), so that "left" is the subject's own left. The times are the app's (a monotonic
//! clock in milliseconds): they bound an honest capture and a naive attack, not an app its owner rewrote, which
//! can state any time. [`Engine::check_active`] (stills, for the desktop evaluations) checks no times.

use crate::pipeline::challenge::ActiveChallenge;
use crate::pipeline::detect::{Face, FaceChoice};
use crate::pipeline::embed::Embedding;
use crate::pipeline::engine::{Engine, Screening};
use crate::pipeline::frame::{check_sequence, FrameData, TimedFrame};
use crate::pipeline::pose::{HeadPose, Pose, PoseClass, PoseThresholds};
use crate::pipeline::quality::{self, QualityLimits};
use crate::{Error, Result};
use image::RgbImage;

/// Most frames one active check examines.
pub const MAX_ACTIVE_FRAMES: usize = 64;
/// Fewest frames with the subject's face a decision other than [`ActiveDecision::TooFewFrames`] needs: a frontal
/// one and one per pose.
pub const MIN_TRACKED_FRAMES: usize = 1 + crate::pipeline::challenge::CHALLENGE_POSES;
/// Smallest intersection over union of the subject's boxes in two consecutive tracked frames.
pub const MIN_TRACK_IOU: f32 = 0.3;
/// Longest a timed sequence may last, from its first frame to its last, in milliseconds.
pub const MAX_SEQUENCE_MS: u64 = 15_000;
/// Longest from the first tracked frame to the first pose, and from each pose to the next, in milliseconds.
pub const MAX_STEP_MS: u64 = 5_000;

/// The decision of an active check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveDecision {
    /// One face, the same person throughout, showed the poses in order and passed the passive check facing the
    /// camera.
    Live,
    /// Fewer than [`MIN_TRACKED_FRAMES`] frames show one face (no frames, one frame, no face, several faces).
    TooFewFrames,
    /// No usable frontal frame, a pose not reached, or a pose shown out of order.
    PoseNotReached,
    /// The face jumped between frames, or a posed face is not the frontal face's person.
    FaceChanged,
    /// The frontal frame failed the passive check (or its quality gates).
    PassiveFailed,
    /// The sequence lasted too long, or a pose came too long after the step before it (timed frames only).
    TooSlow,
}

impl ActiveDecision {
    /// `live`, `too_few_frames`, `pose_not_reached`, `face_changed`, `passive_failed`, `too_slow`.
    pub fn code(self) -> &'static str {
        match self {
            ActiveDecision::Live => "live",
            ActiveDecision::TooFewFrames => "too_few_frames",
            ActiveDecision::PoseNotReached => "pose_not_reached",
            ActiveDecision::FaceChanged => "face_changed",
            ActiveDecision::PassiveFailed => "passive_failed",
            ActiveDecision::TooSlow => "too_slow",
        }
    }

    /// Every decision, `Live` first.
    pub const ALL: [ActiveDecision; 6] = [
        ActiveDecision::Live,
        ActiveDecision::TooFewFrames,
        ActiveDecision::PoseNotReached,
        ActiveDecision::FaceChanged,
        ActiveDecision::PassiveFailed,
        ActiveDecision::TooSlow,
    ];
}

/// What one frame showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameSight {
    /// The subject's face, tracked.
    Tracked,
    /// No face (or no usable landmarks): skipped.
    NoFace,
    /// A second face at least a quarter of the largest's area: skipped.
    SeveralFaces,
    /// Not looked at: the decision was taken before this frame.
    NotExamined,
}

/// One frame of the sequence, as the check saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ActiveFrame {
    /// What the frame showed.
    pub sight: FrameSight,
    /// The head pose's class, for a tracked frame once the frontal frame is known.
    pub pose: Option<PoseClass>,
}

/// The outcome of [`Engine::check_active`]: no score, distance, embedding or image data.
#[derive(Clone, PartialEq)]
pub struct ActiveVerdict {
    /// The decision.
    pub decision: ActiveDecision,
    /// Why, in English, naming frames by their position from 1.
    pub reason: String,
    /// The challenge checked.
    pub challenge: ActiveChallenge,
    /// Each frame, in the order given.
    pub frames: Vec<ActiveFrame>,
    /// The frontal frame's index (from 0) once chosen: the frame the check-in policy matches against the template.
    pub frontal_frame: Option<usize>,
    /// For each pose of the challenge, the index (from 0) of the frame that reached it.
    pub reached: Vec<Option<usize>>,
    /// The frontal face's embedding once computed, for the check-in policy's template match (crate only).
    frontal_embedding: Option<Embedding>,
}

impl std::fmt::Debug for ActiveVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the embedding: biometric data is never formatted.
        f.debug_struct("ActiveVerdict")
            .field("decision", &self.decision)
            .field("reason", &self.reason)
            .field("challenge", &self.challenge)
            .field("frames", &self.frames)
            .field("frontal_frame", &self.frontal_frame)
            .field("reached", &self.reached)
            .finish_non_exhaustive()
    }
}

impl ActiveVerdict {
    /// Frames in which the subject's face was tracked.
    pub fn tracked_frames(&self) -> usize {
        self.frames.iter().filter(|f| f.sight == FrameSight::Tracked).count()
    }

    /// The embedding of the frontal frame's face when the decision is [`ActiveDecision::Live`]: for the check-in
    /// policy's match against the template, so the frame is not embedded twice.
    pub(crate) fn frontal_embedding(&self) -> Option<&Embedding> {
        self.frontal_embedding.as_ref()
    }
}

/// What pass 1 keeps of a tracked frame: no pixels.
struct Tracked {
    index: usize,
    face: Face,
    pose: HeadPose,
    /// `(detector score, sharpness)` when the frame passes the quality gates.
    usable: Option<(f32, f32)>,
}

impl Engine {
    /// The active check of `frames` (JPEG or PNG bytes, in time order) against `challenge`; see the
    /// [module doc](crate::pipeline::active). Errors: more than [`MAX_ACTIVE_FRAMES`] frames
    /// ([`Error::CheckinFrameCount`]), an unreadable frame ([`Error::Selfie`]), a model failure. No frames, or a
    /// single frame, is a decision ([`ActiveDecision::TooFewFrames`]).
    pub fn check_active(&self, challenge: &ActiveChallenge, frames: &[impl AsRef<[u8]>]) -> Result<ActiveVerdict> {
        self.check_active_with(challenge, frames, &PoseThresholds::SHIPPED)
    }

    /// [`Engine::check_active`] with other pose thresholds (for evaluations).
    pub fn check_active_with(
        &self,
        challenge: &ActiveChallenge,
        frames: &[impl AsRef<[u8]>],
        thresholds: &PoseThresholds,
    ) -> Result<ActiveVerdict> {
        check_sequence(frames.len(), MAX_ACTIVE_FRAMES, frames.iter().map(|f| f.as_ref().len()))?;
        let frames: Vec<FrameData<'_>> = frames.iter().map(|f| FrameData::Encoded(f.as_ref())).collect();
        self.run_active(challenge, &frames, None, thresholds)
    }

    /// The active check of timed `frames` (JPEG, PNG or NV21, in the order they were captured) against
    /// `challenge`, with the time limits; see the [module doc](crate::pipeline::active). Errors, before anything is
    /// decoded: more than [`MAX_ACTIVE_FRAMES`] frames ([`Error::CheckinFrameCount`]) or [`MAX_SEQUENCE_BYTES`](crate::pipeline::frame::MAX_SEQUENCE_BYTES)
    /// ([`Error::FramesTooLarge`]), a frame out of bounds ([`Error::Selfie`]), times not increasing
    /// ([`Error::FramesOutOfOrder`]); then an unreadable frame ([`Error::Selfie`]) or a model failure.
    pub fn check_active_timed(&self, challenge: &ActiveChallenge, frames: &[TimedFrame<'_>]) -> Result<ActiveVerdict> {
        check_timed(frames)?;
        let times: Vec<u64> = frames.iter().map(|f| f.time_ms).collect();
        let data: Vec<FrameData<'_>> = frames.iter().map(|f| f.data).collect();
        self.run_active(challenge, &data, Some(&times), &PoseThresholds::SHIPPED)
    }

    fn run_active(
        &self,
        challenge: &ActiveChallenge,
        frames: &[FrameData<'_>],
        times: Option<&[u64]>,
        thresholds: &PoseThresholds,
    ) -> Result<ActiveVerdict> {
        let mut verdict = ActiveVerdict {
            decision: ActiveDecision::TooFewFrames,
            reason: String::new(),
            challenge: *challenge,
            frames: vec![ActiveFrame { sight: FrameSight::NotExamined, pose: None }; frames.len()],
            frontal_frame: None,
            reached: vec![None; challenge.poses().len()],
            frontal_embedding: None,
        };
        let decide = |mut verdict: ActiveVerdict, decision: ActiveDecision, reason: String| {
            verdict.decision = decision;
            verdict.reason = reason;
            Ok(verdict)
        };

        if let Some(span) = times.and_then(|t| Some(t.last()?.saturating_sub(*t.first()?))) {
            if span > MAX_SEQUENCE_MS {
                let reason = format!(
                    "the frames span {:.1} s, more than the {} s a sequence may last",
                    span as f64 / 1000.0,
                    MAX_SEQUENCE_MS / 1000
                );
                return decide(verdict, ActiveDecision::TooSlow, reason);
            }
        }

        // Pass 1: track the face, estimate its pose, note which frames pass the gates.
        let mut tracked: Vec<Tracked> = Vec::new();
        for (index, frame) in frames.iter().enumerate() {
            let image = decode(frame, index)?;
            let faces = self.detector().detect(&image)?;
            let (sight, found) = subject(&image, &faces);
            verdict.frames[index].sight = sight;
            let Some((face, pose)) = found else { continue };
            if let Some(previous) = tracked.last() {
                if previous.face.bbox.iou(&face.bbox) < MIN_TRACK_IOU {
                    let reason = format!(
                        "the face jumped between frames {} and {}: its boxes hardly overlap",
                        previous.index + 1,
                        index + 1
                    );
                    return decide(verdict, ActiveDecision::FaceChanged, reason);
                }
            }
            let usable = quality::assess(&image, &faces, &QualityLimits::SHIPPED)
                .ok()
                .map(|(chosen, measures)| (chosen.score, measures.sharpness));
            tracked.push(Tracked { index, face: face.clone(), pose, usable });
        }
        if tracked.len() < MIN_TRACKED_FRAMES {
            let reason = format!(
                "{} of {} frames show one face; at least {MIN_TRACKED_FRAMES} are needed (a frontal one and one per \
                 pose)",
                tracked.len(),
                frames.len()
            );
            return decide(verdict, ActiveDecision::TooFewFrames, reason);
        }

        // The frontal frame: facing the camera, through the gates; the most confident, sharpest, earliest.
        let frontal = tracked
            .iter()
            .filter(|t| thresholds.is_frontal(&t.pose))
            .filter_map(|t| t.usable.map(|(score, sharpness)| (t, score, sharpness)))
            .fold(None::<(&Tracked, f32, f32)>, |best, (t, score, sharpness)| match best {
                Some((_, s, sh)) if score.total_cmp(&s).then(sharpness.total_cmp(&sh)).is_le() => best,
                _ => Some((t, score, sharpness)),
            })
            .map(|(t, ..)| t);
        let Some(frontal) = frontal else {
            let reason = "no frame shows the face straight on and passes the quality gates".to_owned();
            return decide(verdict, ActiveDecision::PoseNotReached, reason);
        };
        verdict.frontal_frame = Some(frontal.index);

        // The poses, in order.
        let poses = challenge.poses();
        let mut next = 0;
        let mut reached_at: Vec<&Tracked> = Vec::new();
        for t in &tracked {
            let class = thresholds.classify(&t.pose, frontal.pose.pitch);
            verdict.frames[t.index].pose = Some(class);
            let PoseClass::Posed(pose) = class else { continue };
            if next == poses.len() {
                continue;
            }
            if pose == poses[next] {
                verdict.reached[next] = Some(t.index);
                reached_at.push(t);
                next += 1;
            } else if next == 0 || pose != poses[next - 1] {
                let reason = format!(
                    "frame {} shows the head {} while the challenge asks for {} next",
                    t.index + 1,
                    described(pose),
                    described(poses[next])
                );
                return decide(verdict, ActiveDecision::PoseNotReached, reason);
            }
        }
        if next < poses.len() {
            let reason = format!(
                "no frame shows the head {} (pose {} of {}) after the poses before it",
                described(poses[next]),
                next + 1,
                poses.len()
            );
            return decide(verdict, ActiveDecision::PoseNotReached, reason);
        }
        if let Some(times) = times {
            let mut before = &tracked[0];
            for (k, t) in reached_at.iter().enumerate() {
                let step = times[t.index].saturating_sub(times[before.index]);
                if step > MAX_STEP_MS {
                    let reason = format!(
                        "the head {} (frame {}) came {:.1} s after {}, more than the {} s allowed",
                        described(poses[k]),
                        t.index + 1,
                        step as f64 / 1000.0,
                        if k == 0 { "the first frame with the face".to_owned() } else { format!("pose {k}") },
                        MAX_STEP_MS / 1000
                    );
                    return decide(verdict, ActiveDecision::TooSlow, reason);
                }
                before = t;
            }
        }

        // Identity: every posed face is the frontal face's person.
        let image = decode(&frames[frontal.index], frontal.index)?;
        let reference = self.embed_face(&image, &frontal.face)?;
        for (k, t) in reached_at.iter().enumerate() {
            let posed = decode(&frames[t.index], t.index)?;
            let embedding = self.embed_face(&posed, &t.face)?;
            if !self.compare(&reference, &embedding).is_match {
                let reason = format!(
                    "the face turned {} (frame {}) is not the person of the frontal frame ({})",
                    poses[k].code(),
                    t.index + 1,
                    frontal.index + 1
                );
                return decide(verdict, ActiveDecision::FaceChanged, reason);
            }
        }

        // Passive liveness on the frontal frame only.
        match self.screen_image(&image)? {
            Screening::Passed { .. } => {}
            Screening::SpoofSuspected { .. } => {
                let reason = format!(
                    "the frontal frame ({}) looks like a photo or a screen to the passive check",
                    frontal.index + 1
                );
                return decide(verdict, ActiveDecision::PassiveFailed, reason);
            }
            Screening::Retake(issue) => {
                let reason =
                    format!("the frontal frame ({}) fails a quality gate: {}", frontal.index + 1, issue.code());
                return decide(verdict, ActiveDecision::PassiveFailed, reason);
            }
        }
        verdict.frontal_embedding = Some(reference);
        let reason = format!(
            "one face throughout; {} in order; the frontal frame ({}) passes the passive check and the posed faces \
             match it",
            poses.iter().map(|p| p.code()).collect::<Vec<_>>().join(", then "),
            frontal.index + 1
        );
        decide(verdict, ActiveDecision::Live, reason)
    }
}

/// Decodes frame `index` (from 0); an unreadable frame is [`Error::Selfie`] numbered from 1.
fn decode(frame: &FrameData<'_>, index: usize) -> Result<RgbImage> {
    frame.to_rgb().map_err(|e| Error::Selfie { index: index + 1, source: Box::new(e) })
}

/// The bounds of a timed sequence, from the sizes and times alone: count and bytes, each frame, time order.
pub(crate) fn check_timed(frames: &[TimedFrame<'_>]) -> Result<()> {
    check_sequence(frames.len(), MAX_ACTIVE_FRAMES, frames.iter().map(|f| f.data.len()))?;
    for (i, frame) in frames.iter().enumerate() {
        frame.data.check().map_err(|e| Error::Selfie { index: i + 1, source: Box::new(e) })?;
        if i > 0 && frame.time_ms <= frames[i - 1].time_ms {
            return Err(Error::FramesOutOfOrder { index: i + 1 });
        }
    }
    Ok(())
}

/// The subject's face (the largest) and its pose, or why the frame is skipped.
fn subject<'a>(image: &RgbImage, faces: &'a [Face]) -> (FrameSight, Option<(&'a Face, HeadPose)>) {
    let Some(face) = FaceChoice::Largest.pick(faces, image.width(), image.height()) else {
        return (FrameSight::NoFace, None);
    };
    let area = face.bbox.area();
    let limit = QualityLimits::SHIPPED.max_second_face_area_ratio;
    // Written so that a NaN area counts as a second face.
    let crowded = faces.iter().any(|f| {
        !std::ptr::eq(f, face) && f.bbox.area().partial_cmp(&(limit * area)) != Some(std::cmp::Ordering::Less)
    });
    if crowded {
        return (FrameSight::SeveralFaces, None);
    }
    match HeadPose::from_landmarks(&face.landmarks) {
        Some(pose) if area > 0.0 => (FrameSight::Tracked, Some((face, pose))),
        _ => (FrameSight::NoFace, None),
    }
}

/// "turned to the left", for reasons.
fn described(pose: Pose) -> &'static str {
    match pose {
        Pose::Left => "turned to the left",
        Pose::Right => "turned to the right",
        Pose::Up => "tipped up",
    }
}
