//! Face detection with YuNet-n: letterbox, run, decode anchors, non-maximum suppression.

use crate::pipeline::model::{load_plan, push_planar, DetectorEntry, Plan};
use crate::pipeline::resample::{sample_affine, Affine};
use crate::{Error, Result};
use image::RgbImage;
use tract_onnx::prelude::*;

/// The detector's square input side.
pub const DETECTOR_SIDE: u32 = 320;
const STRIDES: [usize; 3] = [8, 16, 32];

/// An axis-aligned box `[x1, y1, x2, y2]` in continuous image coordinates.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BoundingBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BoundingBox {
    /// Width.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }
    /// Height.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }
    /// Area (zero for a degenerate box).
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
    /// Centre point.
    pub fn centre(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }
    /// Intersection over union with `other` (0 when both are degenerate).
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
    fn scaled(&self, f: f32) -> BoundingBox {
        BoundingBox { x1: self.x1 * f, y1: self.y1 * f, x2: self.x2 * f, y2: self.y2 * f }
    }
}

/// A detected face: confidence, box and five landmarks (subject's right eye, left eye, nose tip, right and left
/// mouth corners), in continuous coordinates of the image given to the detector.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Face {
    /// Detector confidence in `0..=1`.
    pub score: f32,
    /// Face box.
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    /// The five landmarks as `(x, y)`.
    pub landmarks: [(f32, f32); 5],
}

/// Which face of several an image is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceChoice {
    /// The face with the largest box: the person holding the phone.
    Largest,
    /// The face whose box centre is nearest the image centre (LFW images are centred on their subject).
    Central,
}

impl FaceChoice {
    /// Picks a face from `faces` found in an image of the given size; `None` when there is none.
    pub fn pick<'a>(&self, faces: &'a [Face], width: u32, height: u32) -> Option<&'a Face> {
        let key = |f: &Face| -> f32 {
            match self {
                FaceChoice::Largest => -f.bbox.area(),
                FaceChoice::Central => {
                    let (cx, cy) = f.bbox.centre();
                    (cx - width as f32 / 2.0).powi(2) + (cy - height as f32 / 2.0).powi(2)
                }
            }
        };
        faces.iter().min_by(|a, b| key(a).total_cmp(&key(b)))
    }
}

/// YuNet-n, loaded and optimised once.
pub struct Detector {
    plan: Plan,
    score_threshold: f32,
    nms_iou: f32,
}

impl Detector {
    /// Loads the detector from its ONNX bytes, checked against the manifest entry.
    pub fn from_bytes(entry: &DetectorEntry, bytes: &[u8]) -> Result<Detector> {
        let plan = load_plan("detector", &entry.model, bytes, DETECTOR_SIDE as usize)?;
        Ok(Detector { plan, score_threshold: entry.score_threshold, nms_iou: entry.nms_iou })
    }

    /// Finds the faces in an image, best first, in the image's coordinates.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Face>> {
        let side = DETECTOR_SIDE as f32;
        let scale = (side / image.width() as f32).min(side / image.height() as f32);
        let inv = 1.0 / scale;
        let letterbox = sample_affine(image, &Affine([inv, 0.0, 0.0, 0.0, inv, 0.0]), DETECTOR_SIDE, DETECTOR_SIDE);
        let faces = self.detect_letterboxed(&letterbox)?;
        Ok(faces
            .into_iter()
            .map(|f| Face {
                score: f.score,
                bbox: f.bbox.scaled(inv),
                landmarks: f.landmarks.map(|(x, y)| (x * inv, y * inv)),
            })
            .collect())
    }

    /// Runs the network on a 320x320 letterboxed image and decodes its output, in letterbox coordinates.
    fn detect_letterboxed(&self, letterbox: &RgbImage) -> Result<Vec<Face>> {
        let side = DETECTOR_SIDE as usize;
        let fail = |e: TractError| Error::Model { name: "detector", reason: format!("{e:#}") };
        let mut pixels = Vec::with_capacity(3 * side * side);
        push_planar(&mut pixels, letterbox, [2, 1, 0], false);
        let input = Tensor::from_shape(&[1, 3, side, side], &pixels).map_err(fail)?;
        let outputs = self.plan.run(tvec!(input.into())).map_err(fail)?;
        let view = |i: usize| {
            outputs[i]
                .to_plain_array_view::<f32>()
                .map_err(|e| Error::Model { name: "detector", reason: format!("{e:#}") })
        };
        let mut candidates = Vec::new();
        for (k, &stride) in STRIDES.iter().enumerate() {
            let (cls, obj, bbox, kps) = (view(k)?, view(3 + k)?, view(6 + k)?, view(9 + k)?);
            let (cls, obj, bbox, kps) = (
                cls.as_slice().unwrap_or_default(),
                obj.as_slice().unwrap_or_default(),
                bbox.as_slice().unwrap_or_default(),
                kps.as_slice().unwrap_or_default(),
            );
            let cols = side / stride;
            let cells = cols * cols;
            if cls.len() != cells || obj.len() != cells || bbox.len() != 4 * cells || kps.len() != 10 * cells {
                return Err(Error::Model { name: "detector", reason: "unexpected output shapes".into() });
            }
            let s = stride as f32;
            for i in 0..cells {
                let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                if score < self.score_threshold {
                    continue;
                }
                let (r, c) = ((i / cols) as f32, (i % cols) as f32);
                let b = &bbox[4 * i..4 * i + 4];
                let (cx, cy) = ((c + b[0]) * s, (r + b[1]) * s);
                let (w, h) = (b[2].exp() * s, b[3].exp() * s);
                let k = &kps[10 * i..10 * i + 10];
                let landmarks = std::array::from_fn(|j| ((c + k[2 * j]) * s, (r + k[2 * j + 1]) * s));
                let bbox = BoundingBox { x1: cx - w / 2.0, y1: cy - h / 2.0, x2: cx + w / 2.0, y2: cy + h / 2.0 };
                candidates.push(Face { score, bbox, landmarks });
            }
        }
        Ok(non_maximum_suppression(candidates, self.nms_iou))
    }
}

/// Keeps the best-scoring faces, dropping any that overlap a kept one by more than `iou`.
fn non_maximum_suppression(mut candidates: Vec<Face>, iou: f32) -> Vec<Face> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for face in candidates {
        if kept.iter().all(|k| k.bbox.iou(&face.bbox) <= iou) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(score: f32, x1: f32, w: f32) -> Face {
        Face { score, bbox: BoundingBox { x1, y1: 0.0, x2: x1 + w, y2: w }, landmarks: [(0.0, 0.0); 5] }
    }

    #[test]
    fn nms_drops_overlapping_weaker_boxes_only() {
        let kept =
            non_maximum_suppression(vec![face(0.7, 1.0, 10.0), face(0.9, 0.0, 10.0), face(0.8, 50.0, 10.0)], 0.3);
        let scores: Vec<f32> = kept.iter().map(|f| f.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
    }

    #[test]
    fn face_choice_picks_largest_or_central() {
        let faces = vec![face(0.9, 0.0, 30.0), face(0.9, 40.0, 20.0)];
        assert_eq!(FaceChoice::Largest.pick(&faces, 100, 20).map(|f| f.bbox.x1), Some(0.0));
        assert_eq!(FaceChoice::Central.pick(&faces, 100, 20).map(|f| f.bbox.x1), Some(40.0));
        assert!(FaceChoice::Largest.pick(&[], 100, 20).is_none());
    }
}
