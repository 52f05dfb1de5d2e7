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
    let mut proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(fail)?;
    fold_weight_dequantization(&mut proto).map_err(|reason| Error::Model { name, reason })?;
    rewrite_prelu(&mut proto).map_err(|reason| Error::Model { name, reason })?;
    rewrite_max_pool_2x2(&mut proto).map_err(|reason| Error::Model { name, reason })?;
    optimise(proto, side).map_err(fail)
}

/// Builds the optimised tract plan of a model for a fixed `1 x 3 x side x side` f32 input. The graph is dropped
/// once tract has its own copy, before the optimisation: the f32 weights are not held twice while it runs.
fn optimise(proto: ModelProto, side: usize) -> TractResult<Plan> {
    let model = tract_onnx::onnx().model_for_proto_model(&proto)?;
    drop(proto);
    model.with_input_fact(0, f32::fact([1, 3, side, side]).into())?.into_optimized()?.into_runnable()
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

/// Rewrites every `PRelu` whose slopes are an initializer as one multiplication and one comparison: with every
/// slope `a <= 1`, `PRelu(x) = max(x, a * x)` (and `min` when every `a >= 1`), exactly (`a * x` is the same
/// product `PRelu` takes for `x < 0`, and the other side is `x` itself). tract expands `PRelu` into a
/// multiplication, a comparison and a select over the whole tensor, each broadcast element by element; the two
/// operations here run on its vectorised binary kernels. A `PRelu` with slopes on both sides of 1 is kept.
fn rewrite_prelu(model: &mut ModelProto) -> std::result::Result<(), String> {
    let Some(graph) = model.graph.as_mut() else { return Err("model has no graph".into()) };
    let mut nodes: Vec<NodeProto> = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let slopes = node.input.get(1).and_then(|n| graph.initializer.iter().find(|t| &t.name == n));
        let (Some(slopes), "PRelu", [x, slope_name], [out]) =
            (slopes, node.op_type.as_str(), node.input.as_slice(), node.output.as_slice())
        else {
            nodes.push(node);
            continue;
        };
        let slopes = floats(slopes)?;
        let select = if slopes.iter().all(|&a| a <= 1.0) {
            "Max"
        } else if slopes.iter().all(|&a| a >= 1.0) {
            "Min"
        } else {
            nodes.push(node);
            continue;
        };
        let scaled = format!("{out}.prelu_scaled");
        nodes.push(NodeProto {
            name: format!("{out}.prelu_mul"),
            op_type: "Mul".into(),
            input: vec![x.clone(), slope_name.clone()],
            output: vec![scaled.clone()],
            ..Default::default()
        });
        nodes.push(NodeProto {
            name: format!("{out}.prelu_select"),
            op_type: select.into(),
            input: vec![x.clone(), scaled],
            output: vec![out.clone()],
            ..Default::default()
        });
    }
    graph.node = nodes;
    Ok(())
}

/// Rewrites every 2x2, stride-2 `MaxPool` without padding as the element-wise maximum of the four strided slices
/// it takes its values from (rows and columns starting at 0 and at 1, every second one, as many as the pooling
/// gives): the same maximum of the same four values. tract runs such a `MaxPool` one output value at a time; strided
/// slices and maxima run on its vectorised kernels. Only from opset 10, where `Slice` takes steps.
fn rewrite_max_pool_2x2(model: &mut ModelProto) -> std::result::Result<(), String> {
    let opset =
        model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map_or(0, |o| o.version);
    if opset < 10 {
        return Ok(());
    }
    let Some(graph) = model.graph.as_mut() else { return Err("model has no graph".into()) };
    let ints = |node: &NodeProto, name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.clone());
    let int = |node: &NodeProto, name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.i);
    let i64s = |name: String, values: &[i64]| TensorProto {
        name,
        dims: vec![values.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    };
    let mut nodes: Vec<NodeProto> = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let plain = node.op_type == "MaxPool"
            && node.input.len() == 1
            && node.output.len() == 1
            && ints(&node, "kernel_shape").as_deref() == Some(&[2, 2])
            && ints(&node, "strides").as_deref() == Some(&[2, 2])
            && ints(&node, "pads").is_none_or(|p| p.iter().all(|&p| p == 0))
            && ints(&node, "dilations").is_none_or(|d| d.iter().all(|&d| d == 1))
            && int(&node, "ceil_mode").is_none_or(|c| c == 0)
            && node.attribute.iter().all(|a| {
                ["kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad"].contains(&a.name.as_str())
            })
            && node.attribute.iter().find(|a| a.name == "auto_pad").is_none_or(|a| a.s == b"NOTSET");
        if !plain {
            nodes.push(node);
            continue;
        }
        let mut slices = Vec::with_capacity(4);
        for (row, column) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            // Named after the pooling's output, which is unique in the graph (node names need not be).
            let prefix = format!("{}.pool_{row}{column}", node.output[0]);
            // A slice from 0 ends before the last row (column), so that an odd size gives as many values as from 1.
            let end = |start: i64| if start == 0 { -1 } else { i64::MAX };
            graph.initializer.push(i64s(format!("{prefix}.starts"), &[row, column]));
            graph.initializer.push(i64s(format!("{prefix}.ends"), &[end(row), end(column)]));
            graph.initializer.push(i64s(format!("{prefix}.axes"), &[2, 3]));
            graph.initializer.push(i64s(format!("{prefix}.steps"), &[2, 2]));
            nodes.push(NodeProto {
                name: prefix.clone(),
                op_type: "Slice".into(),
                input: ["", ".starts", ".ends", ".axes", ".steps"]
                    .iter()
                    .map(|suffix| if suffix.is_empty() { node.input[0].clone() } else { format!("{prefix}{suffix}") })
                    .collect(),
                output: vec![prefix.clone()],
                ..Default::default()
            });
            slices.push(prefix);
        }
        nodes.push(NodeProto {
            name: format!("{}.pool_max", node.output[0]),
            op_type: "Max".into(),
            input: slices,
            output: node.output.clone(),
            ..Default::default()
        });
    }
    graph.node = nodes;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A shipped model's graph, with weight dequantisation folded as [`load_plan`] does.
    fn shipped(entry: &ModelEntry) -> ModelProto {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(&entry.file);
        let bytes = std::fs::read(path).expect("shipped model");
        let mut proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).expect("parses");
        fold_weight_dequantization(&mut proto).expect("folds");
        proto
    }

    fn count(proto: &ModelProto, op_type: &str) -> usize {
        proto.graph.as_ref().expect("graph").node.iter().filter(|n| n.op_type == op_type).count()
    }

    /// How far apart, in units in the last place, the two graphs' outputs may be: none on x86_64; on arm64 tract's
    /// kernels round a few of the liveness models' sums differently in the two graphs (1 to 4 units in the first
    /// outputs compared under qemu), and these tests run there too (`scripts/test-bionic.sh`).
    const ULPS: u32 = if cfg!(target_arch = "x86_64") { 0 } else { 16 };

    /// Runs both graphs on the same inputs in the models' range (0..255), dark and bright, flat and textured, so
    /// that activations take both signs, and compares every output value, within [`ULPS`].
    #[allow(clippy::absurd_extreme_comparisons)] // `ULPS` is 0 on x86_64: equal to the bit
    fn assert_same_outputs(original: &ModelProto, rewritten: &ModelProto, side: usize) {
        let before = optimise(original.clone(), side).expect("plan");
        let after = optimise(rewritten.clone(), side).expect("plan");
        for seed in 0..4u32 {
            let pixels: Vec<f32> = (0..(3 * side * side) as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 97) >> 24) as f32 * (seed + 1) as f32 / 4.0)
                .collect();
            let run = |plan: &Plan| -> Vec<Vec<u32>> {
                let input = Tensor::from_shape(&[1, 3, side, side], &pixels).expect("tensor");
                let outputs = plan.run(tvec!(input.into())).expect("runs");
                outputs
                    .iter()
                    .map(|o| o.to_plain_array_view::<f32>().expect("f32").iter().map(|v| v.to_bits()).collect())
                    .collect()
            };
            let (before, after) = (run(&before), run(&after));
            assert_eq!(before.iter().map(Vec::len).collect::<Vec<_>>(), after.iter().map(Vec::len).collect::<Vec<_>>());
            for (i, (a, b)) in before.iter().flatten().zip(after.iter().flatten()).enumerate() {
                assert!(
                    a.abs_diff(*b) <= ULPS,
                    "seed {seed}, value {i}: {} against {}",
                    f32::from_bits(*a),
                    f32::from_bits(*b)
                );
            }
        }
    }

    #[test]
    fn rewritten_prelu_gives_the_liveness_models_outputs() {
        let models = &Manifest::shipped().models;
        for entry in [&models.liveness_v2.model, &models.liveness_v1se.model] {
            let original = shipped(entry);
            let mut rewritten = original.clone();
            rewrite_prelu(&mut rewritten).expect("rewrites");
            assert!(count(&original, "PRelu") > 30, "the MiniFASNets use PRelu throughout");
            assert_eq!(count(&rewritten, "PRelu"), 0, "every slope of these models is below 1");
            assert_same_outputs(&original, &rewritten, 80);
        }
    }

    #[test]
    fn rewritten_max_pooling_gives_the_detectors_outputs() {
        let original = shipped(&Manifest::shipped().models.detector.model);
        let mut rewritten = original.clone();
        rewrite_max_pool_2x2(&mut rewritten).expect("rewrites");
        assert_eq!((count(&original, "MaxPool"), count(&rewritten, "MaxPool")), (4, 0));
        assert_same_outputs(&original, &rewritten, 320);
    }

    #[test]
    fn other_max_pooling_is_kept() {
        // dlib's one pooling is 3x3.
        let mut proto = shipped(&Manifest::shipped().models.embedder.model);
        rewrite_max_pool_2x2(&mut proto).expect("rewrites");
        assert_eq!(count(&proto, "MaxPool"), 1);
    }

    #[test]
    fn prelu_with_slopes_on_both_sides_of_one_is_kept() {
        let mut proto = shipped(&Manifest::shipped().models.liveness_v2.model);
        let graph = proto.graph.as_mut().expect("graph");
        let slope_name = graph.node.iter().find(|n| n.op_type == "PRelu").expect("a PRelu").input[1].clone();
        let slopes = graph.initializer.iter_mut().find(|t| t.name == slope_name).expect("initializer");
        let mut values = floats(slopes).expect("floats");
        values[0] = 1.5;
        slopes.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        slopes.float_data.clear();
        rewrite_prelu(&mut proto).expect("rewrites");
        assert_eq!(count(&proto, "PRelu"), 1);
    }
}
