//! The verification engine: the models loaded once, and the pipeline from image bytes to a decision.

use crate::pipeline::align::align_face;
use crate::pipeline::decode::decode_image;
use crate::pipeline::detect::{Detector, Face, FaceChoice};
use crate::pipeline::embed::{Embedder, Embedding};
use crate::pipeline::liveness::{Liveness, LivenessScore};
use crate::pipeline::model::Manifest;
use crate::pipeline::quality::{self, QualityIssue, QualityLimits, QualityMeasures};
use crate::{Error, Result};
use image::RgbImage;
use std::path::Path;

/// The ONNX bytes of every model, as shipped in `models/` (Android passes asset bytes).
pub struct ModelBytes<'a> {
    /// `yunet_n_320_320.onnx`.
    pub detector: &'a [u8],
    /// `dlib_resnet29_128d_int8w.onnx`.
    pub embedder: &'a [u8],
    /// `2.7_80x80_MiniFASNetV2_int8w.onnx`.
    pub liveness_v2: &'a [u8],
    /// `4_0_0_80x80_MiniFASNetV1SE_int8w.onnx`.
    pub liveness_v1se: &'a [u8],
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

/// The outcome of the front half of a check-in on one selfie: quality gates, then liveness.
///
/// Only [`Screening::Passed`] may go on to matching. The scores inside are for the desktop tool and evaluation: the
/// check-in policy reports the variant (and a retake's [`QualityIssue::code`]), never the numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Screening {
    /// The selfie cannot be judged; the driver should retake it, following [`QualityIssue::message`].
    Retake(QualityIssue),
    /// The face looks like a presentation attack (a printed photo, a screen): `spoof_suspected`.
    SpoofSuspected {
        /// The liveness verdict.
        liveness: LivenessScore,
    },
    /// One usable, live-looking face, ready to be aligned and matched.
    Passed {
        /// The face (in the coordinates of the screened image).
        face: Face,
        /// What the quality gates measured.
        quality: QualityMeasures,
        /// The liveness verdict.
        liveness: LivenessScore,
    },
}

/// A selfie screened and, if it passed, embedded ([`Engine::screen_and_embed`]). Not `Debug`, like [`Embedding`]:
/// nothing of a face reaches a log.
pub enum Probe {
    /// The selfie cannot be judged; the driver should retake it.
    Retake(QualityIssue),
    /// The face looks like a presentation attack: `spoof_suspected` (its embedding, if made, is dropped).
    SpoofSuspected,
    /// One usable, live-looking face, and its embedding, ready to be matched.
    Live(Box<Embedding>),
}

/// The models, checked against the manifest, parsed and optimised once; reused for every call.
///
/// `Engine` is `Send + Sync`: each call spawns its own tract state from the shared, immutable plans.
pub struct Engine {
    detector: Detector,
    pub(crate) embedder: Embedder,
    liveness: Liveness,
    threshold: f32,
}

impl Engine {
    /// Loads the engine from model bytes; each must match the digest pinned in the compiled-in manifest.
    ///
    /// The models are independent, so the detector, the embedder and the two liveness models are each checked,
    /// parsed and optimised on a thread of their own: loading takes about as long as the slowest of the three where
    /// there are the cores (phones have 4 to 8), not as long as all of them, for about the same peak memory.
    pub fn from_bytes(models: ModelBytes<'_>) -> Result<Engine> {
        Engine::load(models, true)
    }

    /// [`Engine::from_bytes`] on the calling thread alone: the same work, for the instruction counter
    /// (`scripts/armcount.sh`: `../shared/tools/armcount` counts exactly only one thread at a time).
    pub fn from_bytes_on_one_thread(models: ModelBytes<'_>) -> Result<Engine> {
        Engine::load(models, false)
    }

    fn load(models: ModelBytes<'_>, on_threads: bool) -> Result<Engine> {
        let manifest = Manifest::shipped();
        let detector = || Detector::from_bytes(&manifest.models.detector, models.detector);
        let embedder = || Embedder::from_bytes(&manifest.models.embedder, models.embedder);
        let liveness = || {
            Liveness::from_bytes(
                &manifest.models.liveness_v2,
                models.liveness_v2,
                &manifest.models.liveness_v1se,
                models.liveness_v1se,
                manifest.liveness.liveness_threshold.rule,
            )
        };
        let (detector, embedder, liveness) = if on_threads {
            std::thread::scope(|scope| {
                let (detector, embedder) = (scope.spawn(detector), scope.spawn(embedder));
                let liveness = liveness();
                (joined(detector), joined(embedder), liveness)
            })
        } else {
            (detector(), embedder(), liveness())
        };
        Ok(Engine {
            detector: detector?,
            embedder: embedder?,
            liveness: liveness?,
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
        let liveness_v2 = read(&manifest.models.liveness_v2.model.file)?;
        let liveness_v1se = read(&manifest.models.liveness_v1se.model.file)?;
        Engine::from_bytes(ModelBytes {
            detector: &detector,
            embedder: &embedder,
            liveness_v2: &liveness_v2,
            liveness_v1se: &liveness_v1se,
        })
    }

    /// The face detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The embedder.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// The liveness models.
    pub fn liveness(&self) -> &Liveness {
        &self.liveness
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

    /// The front half of a check-in on image bytes: decode, detect, quality gates, liveness. Errors are for bytes
    /// that are not an image and for model failures; an unusable or spoofed selfie is a [`Screening`].
    pub fn screen(&self, bytes: &[u8]) -> Result<Screening> {
        self.screen_image(&decode_image(bytes)?)
    }

    /// [`Engine::screen`] on a decoded image, for a caller that goes on to align and embed the face of
    /// [`Screening::Passed`] in the same image.
    pub fn screen_image(&self, image: &RgbImage) -> Result<Screening> {
        let faces = self.detector.detect(image)?;
        let (face, quality) = match quality::assess(image, &faces, &QualityLimits::SHIPPED) {
            Ok(assessed) => assessed,
            Err(issue) => return Ok(Screening::Retake(issue)),
        };
        let liveness = self.liveness.check(image, face)?;
        Ok(if liveness.is_live {
            Screening::Passed { face: face.clone(), quality, liveness }
        } else {
            Screening::SpoofSuspected { liveness }
        })
    }

    /// [`Engine::screen_image`], then the face's embedding for a selfie that passed: what a check-in and an
    /// enrollment need. Once the face is found, the liveness models and the alignment and embedding run at the same
    /// time on two threads (phones have 4 to 8 cores), so the selfie waits for the longer of the two, not both; the
    /// decision is the same as screening then embedding one after the other, and an embedding is returned only for a
    /// live face. `Err(Error::NoFace)` if the face cannot be aligned.
    pub fn screen_and_embed(&self, image: &RgbImage) -> Result<Probe> {
        let faces = self.detector.detect(image)?;
        let face = match quality::assess(image, &faces, &QualityLimits::SHIPPED) {
            Ok((face, _)) => face,
            Err(issue) => return Ok(Probe::Retake(issue)),
        };
        let (liveness, embedding) = self.liveness_and_embedding(image, face);
        if !liveness?.is_live {
            return Ok(Probe::SpoofSuspected);
        }
        Ok(Probe::Live(Box::new(embedding?)))
    }

    /// The liveness verdict and the embedding of `face`, computed at the same time on two threads.
    pub fn liveness_and_embedding(&self, image: &RgbImage, face: &Face) -> (Result<LivenessScore>, Result<Embedding>) {
        std::thread::scope(|scope| {
            let embedding = scope.spawn(|| self.embed_face(image, face));
            let liveness = self.liveness.check(image, face);
            (liveness, joined(embedding))
        })
    }
}

/// What a scoped thread returned; its panic, if it panicked, continues on this thread.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
