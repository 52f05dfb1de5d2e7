//! Passive liveness (presentation-attack detection): two MiniFASNet models on context crops around the face.
//!
//! Each model sees the face with some of its surroundings (the edges of a printed photo or of a screen are much of
//! what it has learnt): the face box is scaled by the model's `crop_scale` (2.7 for MiniFASNetV2, 4.0 for
//! MiniFASNetV1SE) around its centre, shifted into the image, shrunk uniformly if it does not fit, and resized to
//! 80x80 without keeping the aspect ratio (`../shared/models/SOURCES.md`; `docs/liveness.md`). The input is BGR,
//! 0..255; the output a softmax over three classes of which class 1 is a real face. The manifest's
//! [`LivenessRule`] turns the two real-probabilities into the decision.
//!
//! The box that is scaled is not YuNet's own: the models were trained on boxes of another detector, which are
//! wider and shorter than YuNet's (YuNet's are about 0.86 times as wide and 1.17 times as tall, SOURCES.md), so
//! [`training_box`] first turns YuNet's box into the box that detector would have drawn.

use crate::pipeline::detect::{BoundingBox, Face};
use crate::pipeline::liveness_rule::LivenessRule;
use crate::pipeline::model::{load_plan, push_planar, LivenessEntry, Plan};
use crate::pipeline::resample::{sample_affine, Affine};
use crate::{Error, Result};
use image::RgbImage;
use tract_onnx::prelude::*;

/// Side of the square crop the liveness models take.
pub const LIVENESS_SIDE: u32 = 80;
/// Number of output classes: two kinds of attack and class [`REAL_CLASS`].
const CLASSES: usize = 3;
/// Index of the real-face class in the models' output.
const REAL_CLASS: usize = 1;

/// Width of a YuNet face box relative to the box of the detector the liveness models were trained with.
pub const YUNET_WIDTH_TO_TRAINING: f32 = 0.86;
/// Height of a YuNet face box relative to the box of the detector the liveness models were trained with.
pub const YUNET_HEIGHT_TO_TRAINING: f32 = 1.17;

/// The box the liveness models' training detector would have drawn for a face YuNet boxed as `yunet`: the same
/// centre, `1 / 0.86` times the width and `1 / 1.17` times the height.
pub fn training_box(yunet: &BoundingBox) -> BoundingBox {
    let (cx, cy) = yunet.centre();
    let half_w = yunet.width() / YUNET_WIDTH_TO_TRAINING / 2.0;
    let half_h = yunet.height() / YUNET_HEIGHT_TO_TRAINING / 2.0;
    BoundingBox { x1: cx - half_w, y1: cy - half_h, x2: cx + half_w, y2: cy + half_h }
}

/// The region of a `width x height` image a liveness model with `crop_scale` sees for the face YuNet boxed as
/// `yunet`: [`training_box`] scaled by `crop_scale` around its centre (the scale lowered, for both sides, until
/// the region fits the image), then shifted into the image. `None` for an empty image, a degenerate or non-finite
/// box, or a non-positive scale.
pub fn context_region(width: u32, height: u32, yunet: &BoundingBox, crop_scale: f32) -> Option<BoundingBox> {
    let face = training_box(yunet);
    let (bw, bh) = (face.width(), face.height());
    let (cx, cy) = face.centre();
    let finite = [bw, bh, cx, cy, crop_scale].iter().all(|v| v.is_finite());
    if !finite || bw <= 0.0 || bh <= 0.0 || crop_scale <= 0.0 || width == 0 || height == 0 {
        return None;
    }
    let (w, h) = (width as f32, height as f32);
    let scale = crop_scale.min(w / bw).min(h / bh);
    let (rw, rh) = (bw * scale, bh * scale);
    let left = (cx - rw / 2.0).max(0.0).min(w - rw);
    let top = (cy - rh / 2.0).max(0.0).min(h - rh);
    Some(BoundingBox { x1: left, y1: top, x2: left + rw, y2: top + rh })
}

/// The 80x80 crop of `region` (from [`context_region`]), resized without keeping the aspect ratio.
pub fn context_crop(image: &RgbImage, region: &BoundingBox) -> RgbImage {
    let side = LIVENESS_SIDE as f32;
    let map = Affine([region.width() / side, 0.0, region.x1, 0.0, region.height() / side, region.y1]);
    sample_affine(image, &map, LIVENESS_SIDE, LIVENESS_SIDE)
}

/// One liveness model and the context it needs.
struct LivenessModel {
    name: &'static str,
    plan: Plan,
    crop_scale: f32,
}

impl LivenessModel {
    fn load(name: &'static str, entry: &LivenessEntry, bytes: &[u8]) -> Result<LivenessModel> {
        Ok(LivenessModel {
            name,
            plan: load_plan(name, &entry.model, bytes, LIVENESS_SIDE as usize)?,
            crop_scale: entry.crop_scale,
        })
    }

    /// The three class probabilities for an 80x80 RGB crop.
    fn classify(&self, crop: &RgbImage) -> Result<[f32; CLASSES]> {
        let fail = |reason: String| Error::Model { name: self.name, reason };
        if crop.dimensions() != (LIVENESS_SIDE, LIVENESS_SIDE) {
            return Err(fail(format!("the crop must be {LIVENESS_SIDE}x{LIVENESS_SIDE}")));
        }
        let side = LIVENESS_SIDE as usize;
        let mut pixels = Vec::with_capacity(3 * side * side);
        push_planar(&mut pixels, crop, [2, 1, 0], false);
        let input = Tensor::from_shape(&[1, 3, side, side], &pixels).map_err(|e| fail(format!("{e:#}")))?;
        let outputs = self.plan.run(tvec!(input.into())).map_err(|e| fail(format!("{e:#}")))?;
        let view = outputs[0].to_plain_array_view::<f32>().map_err(|e| fail(format!("{e:#}")))?;
        let probabilities: [f32; CLASSES] = view
            .as_slice()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| fail(format!("expected {CLASSES} class probabilities")))?;
        if !probabilities.iter().all(|p| (0.0..=1.0).contains(p)) {
            return Err(fail("output is not a probability".into()));
        }
        Ok(probabilities)
    }
}

/// The liveness verdict on one face.
///
/// The probabilities are for the desktop tool and the evaluation; the check-in policy uses [`LivenessScore::is_live`]
/// and must not pass the probabilities on (no log, no attestation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LivenessScore {
    /// MiniFASNetV2's (context 2.7) probability that its crop shows a real face.
    pub minifasnet_v2: f32,
    /// MiniFASNetV1SE's (context 4.0) probability that its crop shows a real face.
    pub minifasnet_v1se: f32,
    /// The manifest's decision rule.
    pub rule: LivenessRule,
    /// What `rule` decides on the two probabilities.
    pub is_live: bool,
}

/// The two liveness models, loaded and optimised once, and the decision rule.
pub struct Liveness {
    v2: LivenessModel,
    v1se: LivenessModel,
    rule: LivenessRule,
}

impl Liveness {
    /// Loads both models from their ONNX bytes, each checked against its manifest entry; `rule` is the manifest's
    /// decision rule.
    pub fn from_bytes(
        v2_entry: &LivenessEntry,
        v2_bytes: &[u8],
        v1se_entry: &LivenessEntry,
        v1se_bytes: &[u8],
        rule: LivenessRule,
    ) -> Result<Liveness> {
        Ok(Liveness {
            v2: LivenessModel::load("liveness_v2", v2_entry, v2_bytes)?,
            v1se: LivenessModel::load("liveness_v1se", v1se_entry, v1se_bytes)?,
            rule,
        })
    }

    /// The decision rule.
    pub fn rule(&self) -> LivenessRule {
        self.rule
    }

    /// Scores `face`, found by the detector in `image`. [`Error::NoFace`] when its box is degenerate.
    pub fn check(&self, image: &RgbImage, face: &Face) -> Result<LivenessScore> {
        let real = |model: &LivenessModel| -> Result<f32> {
            let region =
                context_region(image.width(), image.height(), &face.bbox, model.crop_scale).ok_or(Error::NoFace)?;
            Ok(model.classify(&context_crop(image, &region))?[REAL_CLASS])
        };
        let (minifasnet_v2, minifasnet_v1se) = (real(&self.v2)?, real(&self.v1se)?);
        Ok(LivenessScore {
            minifasnet_v2,
            minifasnet_v1se,
            rule: self.rule,
            is_live: self.rule.is_live(minifasnet_v2, minifasnet_v1se),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden_tests::engine;
    use crate::pipeline::decode::decode_image;
    use crate::pipeline::detect::FaceChoice;
    use crate::Screening;
    use std::path::PathBuf;

    fn bbox(x1: f32, y1: f32, x2: f32, y2: f32) -> BoundingBox {
        BoundingBox { x1, y1, x2, y2 }
    }

    fn close(a: &BoundingBox, b: &BoundingBox) -> bool {
        [(a.x1, b.x1), (a.y1, b.y1), (a.x2, b.x2), (a.y2, b.y2)].iter().all(|(p, q)| (p - q).abs() < 1e-3)
    }

    #[test]
    fn training_box_keeps_the_centre_and_reshapes() {
        let t = training_box(&bbox(100.0, 100.0, 186.0, 217.0));
        assert!(close(&t, &bbox(93.0, 108.5, 193.0, 208.5)), "{t:?}");
    }

    #[test]
    fn context_region_scales_around_the_centre_when_it_fits() {
        // Training box 100x100 centred at (500, 500): scale 2.7 gives 270x270.
        let yunet = bbox(457.0, 441.5, 543.0, 558.5);
        let r = context_region(1000, 1000, &yunet, 2.7).expect("region");
        assert!(close(&r, &bbox(365.0, 365.0, 635.0, 635.0)), "{r:?}");
    }

    #[test]
    fn context_region_is_shifted_into_the_image() {
        // Training box 100x100 centred at (30, 970): the 270x270 region is pushed right and up.
        let yunet = bbox(-13.0, 911.5, 73.0, 1028.5);
        let r = context_region(1000, 1000, &yunet, 2.7).expect("region");
        assert!(close(&r, &bbox(0.0, 730.0, 270.0, 1000.0)), "{r:?}");
    }

    #[test]
    fn context_region_shrinks_the_scale_to_fit() {
        // Training box 100x200 in a 300x400 image: scale 4 would need 400x800; the height allows only 2.
        let yunet = bbox(107.0, 83.0, 193.0, 317.0);
        let r = context_region(300, 400, &yunet, 4.0).expect("region");
        assert!(close(&r, &bbox(50.0, 0.0, 250.0, 400.0)), "{r:?}");
    }

    #[test]
    fn degenerate_inputs_give_no_region() {
        assert!(context_region(100, 100, &bbox(10.0, 10.0, 10.0, 20.0), 2.7).is_none());
        assert!(context_region(100, 100, &bbox(f32::NAN, 10.0, 20.0, 20.0), 2.7).is_none());
        assert!(context_region(100, 100, &bbox(10.0, 10.0, f32::INFINITY, 20.0), 2.7).is_none());
        assert!(context_region(100, 100, &bbox(10.0, 10.0, 20.0, 20.0), 0.0).is_none());
        assert!(context_region(0, 100, &bbox(10.0, 10.0, 20.0, 20.0), 2.7).is_none());
    }

    #[test]
    fn crop_maps_the_region_onto_80x80() {
        let image = RgbImage::from_fn(160, 40, |x, _| image::Rgb([if x < 80 { 10 } else { 200 }, 0, 0]));
        let crop = context_crop(&image, &bbox(0.0, 0.0, 160.0, 40.0));
        assert_eq!(crop.dimensions(), (80, 80));
        assert_eq!(crop.get_pixel(39, 79).0[0], 10);
        assert_eq!(crop.get_pixel(40, 0).0[0], 200);
    }

    // ---- golden tests against onnxruntime (scripts/liveness_reference.py, tests/golden_liveness/) ----

    #[derive(serde::Deserialize)]
    struct GoldenModel {
        crop_scale: f32,
        region: [f32; 4],
        probabilities_of_crop_png: [f32; CLASSES],
    }

    #[derive(serde::Deserialize)]
    struct Golden {
        #[serde(rename = "box")]
        bbox: [f32; 4],
        liveness_v2: GoldenModel,
        liveness_v1se: GoldenModel,
    }

    fn golden_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden_liveness")
    }

    fn golden_cases() -> Vec<(String, PathBuf, Golden)> {
        ["image_F1", "image_F2", "image_T1"]
            .iter()
            .map(|stem| {
                let dir = golden_dir().join(stem);
                let text = std::fs::read_to_string(dir.join("golden.json")).expect("golden.json");
                (stem.to_string(), dir, serde_json::from_str(&text).expect("golden.json parses"))
            })
            .collect()
    }

    fn png(path: &std::path::Path) -> RgbImage {
        image::open(path).expect("golden PNG").into_rgb8()
    }

    fn fixture(name: &str) -> RgbImage {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        decode_image(&std::fs::read(path).expect("fixture")).expect("decodes")
    }

    fn liveness_models(liveness: &Liveness) -> [(&'static str, &LivenessModel); 2] {
        [("liveness_v2", &liveness.v2), ("liveness_v1se", &liveness.v1se)]
    }

    #[test]
    fn crops_match_the_reference_on_the_same_pixels() {
        for (case, dir, golden) in golden_cases() {
            // decoded.png: the reference's decoding of the fixture, so both sides crop the same pixels.
            let image = png(&dir.join("decoded.png"));
            let [x1, y1, x2, y2] = golden.bbox;
            for (name, model) in liveness_models(engine().liveness()) {
                let want = if name == "liveness_v2" { &golden.liveness_v2 } else { &golden.liveness_v1se };
                assert_eq!(model.crop_scale, want.crop_scale, "{case} {name}: crop scale");
                let region = context_region(image.width(), image.height(), &bbox(x1, y1, x2, y2), model.crop_scale)
                    .expect("region");
                let [r1, s1, r2, s2] = want.region;
                assert!(close(&region, &bbox(r1, s1, r2, s2)), "{case} {name}: region {region:?} vs {:?}", want.region);
                let crop = context_crop(&image, &region);
                let reference = png(&dir.join(format!("crop_{name}.png")));
                let diffs: Vec<i32> = crop
                    .as_raw()
                    .iter()
                    .zip(reference.as_raw())
                    .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                    .collect();
                let max = diffs.iter().copied().max().unwrap_or(0);
                let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
                // f32 here, f64 in the reference: a sample on a rounding boundary may land one level apart.
                assert!(max <= 1 && mean < 0.05, "{case} {name}: crop differs (max {max}, mean {mean})");
            }
        }
    }

    #[test]
    fn tract_matches_onnxruntime_on_the_same_crops() {
        for (case, dir, golden) in golden_cases() {
            for (name, model) in liveness_models(engine().liveness()) {
                let want = if name == "liveness_v2" { &golden.liveness_v2 } else { &golden.liveness_v1se };
                let got = model.classify(&png(&dir.join(format!("crop_{name}.png")))).expect("classifies");
                for (g, w) in got.iter().zip(&want.probabilities_of_crop_png) {
                    assert!((g - w).abs() < 1e-4, "{case} {name}: {got:?} vs {:?}", want.probabilities_of_crop_png);
                }
            }
        }
    }

    #[test]
    fn softmax_is_float_and_outputs_are_distributions() {
        // tract returns all ones from a quantised Softmax (DequantizeLinear -> Softmax -> QuantizeLinear): the
        // shipped files quantise weights only. Check the graphs, then that real outputs are distributions.
        let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let manifest = crate::Manifest::shipped();
        for entry in [&manifest.models.liveness_v2, &manifest.models.liveness_v1se] {
            let bytes = std::fs::read(models.join(&entry.model.file)).expect("model file");
            let proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).expect("parses");
            let graph = proto.graph.expect("graph");
            let producer = |output: &str| graph.node.iter().find(|n| n.output.iter().any(|o| o == output));
            assert!(
                graph.node.iter().all(|n| n.op_type != "QuantizeLinear"),
                "{}: activations quantised",
                entry.model.file
            );
            let softmaxes: Vec<_> = graph.node.iter().filter(|n| n.op_type == "Softmax").collect();
            assert_eq!(softmaxes.len(), 1, "{}", entry.model.file);
            let input = producer(&softmaxes[0].input[0]).expect("softmax input is computed");
            assert_ne!(input.op_type, "DequantizeLinear", "{}", entry.model.file);
        }
        let image = fixture("image_T1.jpg");
        let faces = engine().detector().detect(&image).expect("detects");
        let face = FaceChoice::Largest.pick(&faces, image.width(), image.height()).expect("a face");
        for (name, model) in liveness_models(engine().liveness()) {
            let region = context_region(image.width(), image.height(), &face.bbox, model.crop_scale).expect("region");
            let p = model.classify(&context_crop(&image, &region)).expect("classifies");
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{name}: {p:?}");
            assert!(p.iter().any(|&v| v < 0.5), "{name}: degenerate softmax {p:?}");
        }
    }

    #[test]
    fn silent_face_samples_are_classified_with_the_shipped_threshold() {
        for (name, live) in [("image_F1.jpg", false), ("image_F2.jpg", false), ("image_T1.jpg", true)] {
            let image = fixture(name);
            let faces = engine().detector().detect(&image).expect("detects");
            let face = FaceChoice::Largest.pick(&faces, image.width(), image.height()).expect("a face");
            let score = engine().liveness().check(&image, face).expect("scores");
            assert_eq!(score.rule, crate::Manifest::shipped().liveness.liveness_threshold.rule);
            assert_eq!(score.is_live, live, "{name}: {score:?}");
            let screening = engine().screen_image(&image).expect("screens");
            match (live, screening) {
                (true, Screening::Passed { .. }) | (false, Screening::SpoofSuspected { .. }) => {}
                (_, other) => panic!("{name}: unexpected screening {other:?}"),
            }
        }
    }

    #[test]
    fn a_face_box_outside_the_image_is_handled() {
        let image = fixture("image_T1.jpg");
        let face = Face { score: 0.9, bbox: bbox(-500.0, -500.0, -400.0, -380.0), landmarks: [(0.0, 0.0); 5] };
        let score = engine().liveness().check(&image, &face).expect("the region is shifted into the image");
        assert!(score.minifasnet_v2.is_finite() && score.minifasnet_v1se.is_finite());
        let degenerate = Face { bbox: bbox(5.0, 5.0, 5.0, 5.0), ..face };
        assert!(matches!(engine().liveness().check(&image, &degenerate), Err(Error::NoFace)));
    }
}
