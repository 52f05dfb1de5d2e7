//! The vision pipeline: from untrusted image bytes to a liveness verdict and an embedding, with no state kept
//! between calls and nothing known about drivers, vaults or tokens.
//!
//! One selfie goes, in this order: [`decode`] (EXIF orientation, bounded memory) → [`detect`] (YuNet-n boxes and
//! five landmarks; letterboxing through [`resample`]) → [`quality`] gates → [`liveness`] (two MiniFASNet models on
//! context crops) → [`align`] (five-point similarity onto the embedder's template) → [`embed`] (dlib ResNet-29)
//! → comparison. [`liveness_rule`] is the liveness decision on the two models' outputs. [`engine`] holds the loaded
//! models and runs those steps; [`model`] pins the model files to the compiled-in manifest and turns them into
//! optimised tract plans. `scripts/PIPELINE.md` states each step exactly. [`edits`] is no stage: the edits of a
//! photo (contrast, gamma, sharpening, JPEG, rotation) the liveness decision is tested under.
//!
//! The active liveness check runs those stages on a sequence of frames: [`pose`] estimates the head's pose from the
//! five landmarks, [`challenge`] derives the poses to show from the fleet's nonce, and [`active`] decides whether
//! one face, the same person throughout, showed them in order and passed the passive check facing the camera.
//!
//! Dependencies point down this list and to the crate's error type only: no stage imports the device side.

pub mod active;
pub mod align;
pub mod challenge;
pub mod decode;
pub mod detect;
pub mod edits;
pub mod embed;
pub mod engine;
pub mod frame;
pub mod liveness;
pub mod liveness_rule;
pub mod model;
pub mod pose;
pub mod quality;
pub mod resample;
