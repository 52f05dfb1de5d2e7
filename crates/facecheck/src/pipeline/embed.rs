//! Face embeddings with the dlib ResNet-29 network, and their comparison.

use crate::pipeline::align::ALIGNED_SIDE;
use crate::pipeline::model::{load_plan, push_planar, EmbedderEntry, Plan};
use crate::{Error, Result};
use image::RgbImage;
use tract_onnx::prelude::*;
use zeroize::Zeroize;

/// Length of an embedding.
pub const EMBEDDING_LEN: usize = 128;

/// A unit-length face embedding. It is biometric data: it has no public accessor and is not `Debug`; it can only be
/// compared, and sealed into the vault by the core.
#[derive(Clone, PartialEq)]
pub struct Embedding(pub(crate) [f32; EMBEDDING_LEN]);

impl Embedding {
    /// Euclidean distance between two embeddings, in `0..=2`.
    pub fn distance(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt()
    }

    /// The normalised mean of several embeddings (an enrollment template); `None` for an empty list.
    pub fn mean(embeddings: &[Embedding]) -> Option<Embedding> {
        let first = embeddings.first()?;
        let mut sum = first.0;
        for e in &embeddings[1..] {
            sum.iter_mut().zip(&e.0).for_each(|(s, v)| *s += v);
        }
        normalised(sum)
    }
}

impl Drop for Embedding {
    fn drop(&mut self) {
        // Biometric data does not outlive its use in memory.
        self.0.zeroize();
    }
}

fn normalised(mut v: [f32; EMBEDDING_LEN]) -> Option<Embedding> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm <= 0.0 {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(Embedding(v))
}

/// The dlib ResNet-29 embedder, loaded and optimised once.
pub struct Embedder {
    plan: Plan,
}

impl Embedder {
    /// Loads the embedder from its ONNX bytes, checked against the manifest entry.
    pub fn from_bytes(entry: &EmbedderEntry, bytes: &[u8]) -> Result<Embedder> {
        Ok(Embedder { plan: load_plan("embedder", &entry.model, bytes, ALIGNED_SIDE as usize)? })
    }

    /// Embeds an aligned 150x150 crop with test-time flip: the crop and its mirror image are embedded, their raw
    /// descriptors summed and the sum normalised.
    pub fn embed(&self, aligned: &RgbImage) -> Result<Embedding> {
        if aligned.dimensions() != (ALIGNED_SIDE, ALIGNED_SIDE) {
            return Err(Error::Model { name: "embedder", reason: "crop is not 150x150".into() });
        }
        let direct = self.descriptor(aligned, false)?;
        let mirrored = self.descriptor(aligned, true)?;
        normalised(std::array::from_fn(|i| direct[i] + mirrored[i]))
            .ok_or_else(|| Error::Model { name: "embedder", reason: "zero descriptor".into() })
    }

    fn descriptor(&self, aligned: &RgbImage, mirror: bool) -> Result<[f32; EMBEDDING_LEN]> {
        let side = ALIGNED_SIDE as usize;
        let fail = |e: TractError| Error::Model { name: "embedder", reason: format!("{e:#}") };
        let mut pixels = Vec::with_capacity(3 * side * side);
        push_planar(&mut pixels, aligned, [0, 1, 2], mirror);
        let input = Tensor::from_shape(&[1, 3, side, side], &pixels).map_err(fail)?;
        let outputs = self.plan.run(tvec!(input.into())).map_err(fail)?;
        let view = outputs[0].to_plain_array_view::<f32>().map_err(fail)?;
        let values: Vec<f32> = view.iter().copied().collect();
        values.try_into().map_err(|_| Error::Model { name: "embedder", reason: "descriptor is not 128 values".into() })
    }
}
