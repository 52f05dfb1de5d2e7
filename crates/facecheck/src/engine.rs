//! The verification engine: the models loaded once, and the pipeline from image bytes to a decision.

use crate::align::align_face;
use crate::decode::decode_image;
use crate::detect::{Detector, Face, FaceChoice};
use crate::embed::{Embedder, Embedding};
use crate::model::Manifest;
use crate::{Error, Result};
use image::RgbImage;
use std::path::Path;

/// The ONNX bytes of every model, as shipped in `models/` (Android passes asset bytes).
pub struct ModelBytes<'a> {
    /// `yunet_n_320_320.onnx`.
    pub detector: &'a [u8],
    /// `dlib_resnet29_128d_int8w.onnx`.
    pub embedder: &'a [u8],
}

/// The outcome of comparing two faces.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// Euclidean distance between the two embeddings.
    pub distance: f32,
    /// The manifest's decision threshold.
    pub threshold: f32,
    /// `distance < threshold`.
    pub is_match: bool,
}

/// The models, checked against the manifest, parsed and optimised once; reused for every call.
///
/// `Engine` is `Send + Sync`: each call spawns its own tract state from the shared, immutable plans.
pub struct Engine {
    detector: Detector,
    pub(crate) embedder: Embedder,
    threshold: f32,
}

impl Engine {
    /// Loads the engine from model bytes; each must match the digest pinned in the compiled-in manifest.
    pub fn from_bytes(models: ModelBytes<'_>) -> Result<Engine> {
        let manifest = Manifest::shipped();
        Ok(Engine {
            detector: Detector::from_bytes(&manifest.models.detector, models.detector)?,
            embedder: Embedder::from_bytes(&manifest.models.embedder, models.embedder)?,
            threshold: manifest.models.embedder.match_threshold.distance,
        })
    }

    /// Loads the engine from a folder holding the files the manifest names (the repository's `models/`).
    pub fn from_dir(dir: &Path) -> Result<Engine> {
        let manifest = Manifest::shipped();
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|source| Error::ModelIo { path: path.display().to_string(), source })
        };
        let detector = read(&manifest.models.detector.model.file)?;
        let embedder = read(&manifest.models.embedder.model.file)?;
        Engine::from_bytes(ModelBytes { detector: &detector, embedder: &embedder })
    }

    /// The face detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The decision threshold on embedding distance.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Aligns and embeds one detected face of `image`.
    pub fn embed_face(&self, image: &RgbImage, face: &Face) -> Result<Embedding> {
        let aligned = align_face(image, face).ok_or(Error::NoFace)?;
        self.embedder.embed(&aligned)
    }

    /// Decodes image bytes, finds the face `choice` names, and embeds it.
    pub fn embed_image(&self, bytes: &[u8], choice: FaceChoice) -> Result<Embedding> {
        let image = decode_image(bytes)?;
        let faces = self.detector.detect(&image)?;
        let face = choice.pick(&faces, image.width(), image.height()).ok_or(Error::NoFace)?;
        self.embed_face(&image, face)
    }

    /// Compares two embeddings against the manifest threshold.
    pub fn compare(&self, a: &Embedding, b: &Embedding) -> Comparison {
        let distance = a.distance(b);
        Comparison { distance, threshold: self.threshold, is_match: distance < self.threshold }
    }
}
