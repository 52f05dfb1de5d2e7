//! Five-point alignment: the least-squares similarity from a face's landmarks onto the embedder's template.

use crate::pipeline::detect::Face;
use crate::pipeline::resample::{sample_affine, Affine};
use image::RgbImage;

/// Side of the aligned crop the embedder takes.
pub const ALIGNED_SIDE: u32 = 150;

/// Where the five landmarks go in the 150x150 crop (dlib's face chip, padding 0.25; `scripts/PIPELINE.md`).
pub const TEMPLATE: [(f32, f32); 5] =
    [(47.16, 44.77), (103.20, 44.91), (75.20, 78.15), (50.34, 103.25), (99.25, 103.39)];

/// A similarity transform `q = [[a, -b], [b, a]] p + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    a: f32,
    b: f32,
    tx: f32,
    ty: f32,
}

impl Similarity {
    /// The least-squares similarity taking `from` onto `to`; `None` when `from` has no spread (all points equal).
    pub fn fit(from: &[(f32, f32); 5], to: &[(f32, f32); 5]) -> Option<Similarity> {
        let mean = |p: &[(f32, f32); 5]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
            (sx / 5.0, sy / 5.0)
        };
        let (pmx, pmy) = mean(from);
        let (qmx, qmy) = mean(to);
        let (mut dot, mut cross, mut norm) = (0.0f32, 0.0f32, 0.0f32);
        for (&(px, py), &(qx, qy)) in from.iter().zip(to) {
            let (px, py, qx, qy) = (px - pmx, py - pmy, qx - qmx, qy - qmy);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            norm += px * px + py * py;
        }
        if !norm.is_finite() || norm <= f32::EPSILON {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        Some(Similarity { a, b, tx: qmx - (a * pmx - b * pmy), ty: qmy - (b * pmx + a * pmy) })
    }

    /// Scale factor of the transform.
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// Rotation angle of the transform, in degrees.
    pub fn rotation_degrees(&self) -> f32 {
        self.b.atan2(self.a).to_degrees()
    }

    /// The inverse map, from template (crop) coordinates back to image coordinates.
    fn inverse(&self) -> Option<Affine> {
        let d = self.a * self.a + self.b * self.b;
        if !d.is_finite() || d <= 0.0 {
            return None;
        }
        let (ia, ib) = (self.a / d, -self.b / d);
        // p = [[ia, -ib], [ib, ia]] (q - t)
        let tx = -(ia * self.tx - ib * self.ty);
        let ty = -(ib * self.tx + ia * self.ty);
        Some(Affine([ia, -ib, tx, ib, ia, ty]))
    }
}

/// Cuts the 150x150 crop of `face` aligned to [`TEMPLATE`]; `None` when the landmarks are degenerate.
pub fn align_face(image: &RgbImage, face: &Face) -> Option<RgbImage> {
    let map = Similarity::fit(&face.landmarks, &TEMPLATE)?.inverse()?;
    Some(sample_affine(image, &map, ALIGNED_SIDE, ALIGNED_SIDE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity_and_inverts_it() {
        let truth = Similarity { a: 0.8, b: 0.3, tx: 5.0, ty: -2.0 };
        let p = [(10.0, 20.0), (60.0, 22.0), (35.0, 50.0), (15.0, 80.0), (58.0, 79.0)];
        let q = p.map(|(x, y)| (truth.a * x - truth.b * y + truth.tx, truth.b * x + truth.a * y + truth.ty));
        let fit = Similarity::fit(&p, &q).expect("points are spread");
        for (got, want) in [(fit.a, truth.a), (fit.b, truth.b), (fit.tx, truth.tx), (fit.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        let inv = fit.inverse().expect("invertible");
        let (x, y) = inv.apply(q[2].0, q[2].1);
        assert!((x - p[2].0).abs() < 1e-3 && (y - p[2].1).abs() < 1e-3);
    }

    #[test]
    fn degenerate_landmarks_are_refused() {
        assert!(Similarity::fit(&[(3.0, 3.0); 5], &TEMPLATE).is_none());
        assert!(Similarity::fit(&[(f32::NAN, 3.0); 5], &TEMPLATE).is_none());
    }
}
