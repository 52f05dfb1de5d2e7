//! The model manifest compiled into the library, digest checks, and loading ONNX bytes into optimised tract plans.

use crate::pipeline::liveness_rule::LivenessRule;
use crate::{Error, Result};
use std::sync::Arc;
use tract_onnx::pb::{tensor_proto::DataType, ModelProto, NodeProto, TensorProto};
use tract_onnx::prelude::*;

/// The manifest of the shipped models (`models/manifest.json`), compiled in: model bytes are accepted only if their
/// sha256 is the one pinned here.
pub const MANIFEST_JSON: &str = include_str!("../../../../models/manifest.json");

/// One manifest entry: which file, and its pinned digest.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ModelEntry {
    /// File name inside `models/`.
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
}

/// The embedder's decision threshold and what it was chosen for.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct MatchThreshold {
    /// Embeddings closer than this (Euclidean, unit vectors) are the same person.
    pub distance: f32,
    /// The false-match rate the threshold was chosen for.
    pub chosen_for_fmr: f64,
    /// The data it was chosen on.
    pub chosen_on: String,
}

/// The parts of `models/manifest.json` the core uses.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Manifest {
    /// The entries, by role.
    pub models: ManifestModels,
    /// The liveness decision, which combines the two liveness models.
    pub liveness: LivenessSection,
}

/// The manifest's `liveness` section: how the two liveness models' outputs become a decision.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LivenessSection {
    /// The decision rule and its thresholds.
    pub liveness_threshold: LivenessThreshold,
}

/// The liveness decision rule, what it was chosen for, and the rates it gave on the data it was chosen on.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LivenessThreshold {
    /// How the two models' real-probabilities decide, with the thresholds.
    pub rule: LivenessRule,
    /// The bona fide presentation classification error rate (live faces rejected) it was chosen for.
    pub chosen_for_bpcer: f64,
    /// The data it was chosen on.
    pub chosen_on: String,
    /// Attack presentation classification error rate (attacks accepted) at this threshold on that data.
    pub apcer: f64,
    /// Bona fide presentation classification error rate at this threshold on that data.
    pub bpcer: f64,
}

/// Manifest entries by role.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ManifestModels {
    /// YuNet face detector.
    pub detector: DetectorEntry,
    /// dlib ResNet-29 embedder.
    pub embedder: EmbedderEntry,
    /// MiniFASNetV2 liveness model (context scale 2.7).
    pub liveness_v2: LivenessEntry,
    /// MiniFASNetV1SE liveness model (context scale 4.0).
    pub liveness_v1se: LivenessEntry,
}

/// The detector's entry.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DetectorEntry {
    /// File and digest.
    #[serde(flatten)]
    pub model: ModelEntry,
    /// Candidate faces below this score are dropped.
    pub score_threshold: f32,
    /// Non-maximum suppression IoU.
    pub nms_iou: f32,
}

/// The embedder's entry.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EmbedderEntry {
    /// File and digest.
    #[serde(flatten)]
    pub model: ModelEntry,
    /// The decision threshold.
    pub match_threshold: MatchThreshold,
}

/// A liveness model's entry.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LivenessEntry {
    /// File and digest.
    #[serde(flatten)]
    pub model: ModelEntry,
    /// How much larger than the face box the region the model sees is, in width and height.
    pub crop_scale: f32,
}

impl Manifest {
    /// The compiled-in manifest.
    pub fn shipped() -> &'static Manifest {
        static MANIFEST: std::sync::OnceLock<Manifest> = std::sync::OnceLock::new();
        MANIFEST.get_or_init(|| {
            serde_json::from_str(MANIFEST_JSON).expect("models/manifest.json is checked by the test suite")
        })
    }

    /// Lower-case hex sha256 of the manifest text: names the exact model set in attestations.
    pub fn digest() -> String {
        hex_sha256(MANIFEST_JSON.as_bytes())
    }
}

/// Lower-case hex sha256 of some bytes.
pub fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An optimised tract plan, built once and run many times.
pub(crate) type Plan = Arc<TypedRunnableModel>;

/// Appends the pixels of `image` to `out` as one planar (CHW) f32 image, values 0..255: channel `c` of the result
/// is channel `channels[c]` of the RGB pixels (`[2, 1, 0]` for BGR), and `mirror` reverses every row.
pub(crate) fn push_planar(out: &mut Vec<f32>, image: &image::RgbImage, channels: [usize; 3], mirror: bool) {
    let width = image.width() as usize;
    let raw = image.as_raw();
    for channel in channels {
        for row in raw.chunks_exact(width * 3) {
            if mirror {
                out.extend(row.chunks_exact(3).rev().map(|p| f32::from(p[channel])));
            } else {
                out.extend(row.chunks_exact(3).map(|p| f32::from(p[channel])));
            }
        }
    }
}

/// Checks `bytes` against the manifest entry, then parses, folds weight dequantisation, and optimises the model
/// for a fixed `1 x 3 x side x side` f32 input.
pub(crate) fn load_plan(name: &'static str, entry: &ModelEntry, bytes: &[u8], side: usize) -> Result<Plan> {
    let actual = hex_sha256(bytes);
    if actual != entry.sha256 {
        return Err(Error::ModelDigestMismatch { name, expected: entry.sha256.clone(), actual });
    }
    let fail = |e: TractError| Error::Model { name, reason: format!("{e:#}") };
    let onnx = tract_onnx::onnx();
    let mut proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(fail)?;
    fold_weight_dequantization(&mut proto).map_err(|reason| Error::Model { name, reason })?;
    onnx.model_for_proto_model(&proto)
        .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, side, side]).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(fail)
}

/// Replaces every `DequantizeLinear` whose inputs are all initializers (int8 weights, per-channel scales and zero
/// points) by the f32 initializer it computes, so the weights are dequantised once here rather than folded by
/// tract's generic constant propagation.
fn fold_weight_dequantization(model: &mut ModelProto) -> std::result::Result<(), String> {
    let Some(graph) = model.graph.as_mut() else { return Err("model has no graph".into()) };
    let mut kept: Vec<NodeProto> = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let constant_inputs = node.input.iter().all(|i| graph.initializer.iter().any(|t| &t.name == i));
        if node.op_type != "DequantizeLinear" || !constant_inputs || node.output.len() != 1 {
            kept.push(node);
            continue;
        }
        let find = |i: usize| node.input.get(i).and_then(|n| graph.initializer.iter().find(|t| &t.name == n));
        let quantized = find(0).ok_or("DequantizeLinear without input")?;
        let scale = find(1).ok_or("DequantizeLinear without scale")?;
        let axis = node.attribute.iter().find(|a| a.name == "axis").map_or(1, |a| a.i);
        let mut dequantized = dequantize(quantized, scale, find(2), axis)?;
        dequantized.name = node.output[0].clone();
        graph.initializer.push(dequantized);
    }
    graph.node = kept;
    let used = |name: &str| graph.node.iter().any(|n| n.input.iter().any(|i| i == name));
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    graph.initializer.retain(|t| used(&t.name) || outputs.contains(&t.name));
    Ok(())
}

fn dequantize(
    quantized: &TensorProto,
    scale: &TensorProto,
    zero_point: Option<&TensorProto>,
    axis: i64,
) -> std::result::Result<TensorProto, String> {
    let values = integers(quantized)?;
    let scales = floats(scale)?;
    let zero_points = match zero_point {
        Some(z) => integers(z)?,
        None => vec![0; scales.len()],
    };
    let dims: Vec<usize> = quantized
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "negative dim"))
        .collect::<std::result::Result<_, _>>()?;
    if dims.iter().product::<usize>() != values.len() || zero_points.len() != scales.len() {
        return Err("DequantizeLinear operands do not agree in size".into());
    }
    // Index of each element along the quantisation axis: (i / inner) % channels.
    let (channels, inner) = if scales.len() == 1 {
        (1, 1)
    } else {
        let rank = dims.len() as i64;
        let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).map_err(|_| "bad axis")?;
        if axis >= dims.len() || dims[axis] != scales.len() {
            return Err("per-channel scales do not match the axis".into());
        }
        (dims[axis], dims[axis + 1..].iter().product())
    };
    // One run of `inner` values per channel index, in turn: (i / inner) % channels is constant over each run.
    let mut raw = vec![0u8; values.len() * 4];
    let runs = values.chunks(inner.max(1)).zip(raw.chunks_mut(inner.max(1) * 4));
    for (run, (chunk, bytes)) in runs.enumerate() {
        let c = run % channels;
        let (zero_point, scale) = (zero_points[c], scales[c]);
        for (&q, out) in chunk.iter().zip(bytes.chunks_exact_mut(4)) {
            out.copy_from_slice(&((q - zero_point) as f32 * scale).to_le_bytes());
        }
    }
    Ok(TensorProto {
        dims: quantized.dims.clone(),
        data_type: DataType::Float as i32,
        raw_data: raw,
        ..Default::default()
    })
}

fn integers(t: &TensorProto) -> std::result::Result<Vec<i32>, String> {
    match DataType::try_from(t.data_type) {
        Ok(DataType::Int8) if !t.raw_data.is_empty() => Ok(t.raw_data.iter().map(|&b| b as i8 as i32).collect()),
        Ok(DataType::Uint8) if !t.raw_data.is_empty() => Ok(t.raw_data.iter().map(|&b| b as i32).collect()),
        Ok(DataType::Int8 | DataType::Uint8) => Ok(t.int32_data.clone()),
        _ => Err(format!("unsupported quantised weight type {}", t.data_type)),
    }
}

fn floats(t: &TensorProto) -> std::result::Result<Vec<f32>, String> {
    match DataType::try_from(t.data_type) {
        Ok(DataType::Float) if !t.raw_data.is_empty() => {
            Ok(t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        Ok(DataType::Float) => Ok(t.float_data.clone()),
        _ => Err(format!("unsupported scale type {}", t.data_type)),
    }
}
