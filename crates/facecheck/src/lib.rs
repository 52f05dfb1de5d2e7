//! Facecheck core: on-device face verification with no network.
//!
//! The flow (`scripts/PIPELINE.md` states each step exactly):
//! [`decode_image`] (EXIF orientation, bounded memory) → [`Detector`] (YuNet-n: boxes and five landmarks) →
//! [`quality`] gates (one face, size, pose, light, sharpness) → [`Liveness`] (two MiniFASNet models on context
//! crops; [`Engine::screen`] runs the steps so far) → [`align_face`] (least-squares similarity onto the embedder's
//! template) → [`Embedder`] (dlib ResNet-29, int8 weights, test-time flip) → [`Engine::compare`] against the
//! threshold of the compiled-in [`Manifest`]. The [`checkin`] policy runs that flow for enrollment and check-in
//! against the encrypted [`vault`], and signs what the fleet receives (`facecheck_attest` tokens). [`qr`] reads the
//! dispatcher's enrollment code from a picture.
//!
//! Models are loaded from bytes or a folder, checked against the sha256 digests the manifest pins, optimised once
//! and reused. Nothing here opens a socket, and nothing biometric is logged or shown in error texts.
#![forbid(unsafe_code)]

mod device;
mod error;
mod pipeline;
pub mod qr;

// The module paths are those of the flat layout the crate started with (`facecheck::quality`,
// `facecheck::vault`, ...): the folders are how the source is organised, not part of the API.
pub use device::{checkin, checkin_active, clock, review, vault};
pub use pipeline::{
    active, align, challenge, decode, detect, edits, embed, engine, frame, liveness, liveness_rule, model, pose,
    quality, resample,
};

pub use active::{ActiveDecision, ActiveFrame, ActiveVerdict, FrameSight};
pub use align::align_face;
pub use challenge::ActiveChallenge;
pub use checkin_active::ActiveCheckIn;
pub use clock::Clock;
pub use decode::decode_image;
pub use detect::{BoundingBox, Detector, Face, FaceChoice};
pub use embed::{Embedder, Embedding};
pub use engine::{Comparison, Engine, ModelBytes, Probe, Screening};
pub use error::{Error, QualityIssue, Result};
pub use frame::{FrameData, Rotation, TimedFrame};
pub use liveness::{Liveness, LivenessScore};
pub use liveness_rule::LivenessRule;
pub use model::Manifest;
pub use pose::{HeadPose, Pose, PoseClass, PoseThresholds};
pub use quality::{QualityLimits, QualityMeasures};
pub use vault::{ErasureTicket, Kek, LockOut, Vault, VaultInit};

#[cfg(test)]
mod golden_tests;

#[cfg(test)]
mod arch_tests;
