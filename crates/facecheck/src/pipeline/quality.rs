//! Capture-quality gates, run before liveness and matching: is this selfie good enough to judge?
//!
//! Each gate measures one thing on the detected faces or on the face's aligned crop, and each failure is a
//! distinct [`QualityIssue`] with a message the driver can act on. The gates run in a fixed order (framing, then
//! pose, then light, then sharpness), so the first failure names the first thing to fix: a dark picture is also
//! a noisy, soft one, and the advice is then "more light", not "hold still". The limits ([`QualityLimits::SHIPPED`])
//! and their rejection rates on ordinary photos are in `docs/liveness.md`.

pub use crate::error::QualityIssue;
use crate::pipeline::align::{align_face, ALIGNED_SIDE};
use crate::pipeline::detect::{Face, FaceChoice};
use crate::pipeline::pose::HeadPose;
use image::RgbImage;

/// What the gates measure on one picture (all but `faces` about the chosen face).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct QualityMeasures {
    /// Faces the detector found.
    pub faces: usize,
    /// Box area of the largest other face relative to the chosen face's (0 when alone).
    pub second_face_area_ratio: f32,
    /// Fraction of the face box that lies outside the picture.
    pub outside_fraction: f32,
    /// Width of the face box, in pixels.
    pub face_width: f32,
    /// The larger of face box width / picture width and face box height / picture height.
    pub face_extent: f32,
    /// Sideways offset of the nose tip from the face's midline (between the eyes' and the mouth corners'
    /// midpoints), in eye distances, after undoing the roll ([`HeadPose::yaw`]): roughly `0.5 * tan(yaw)` if the
    /// nose tip stands half an eye distance in front of the eyes (a rule of thumb, not calibrated on measured head
    /// poses).
    pub yaw: f32,
    /// Angle of the line between the eyes to the horizontal, in degrees.
    pub roll_degrees: f32,
    /// Height of the nose tip between the eye line (0) and the mouth line (1), after undoing the roll
    /// ([`HeadPose::pitch`]); 0.57 on the embedder's frontal template, lower when the head tips back, higher when
    /// it tips forward.
    pub pitch: f32,
    /// Mean luma (BT.601, 0..255) of the face's central region on the aligned crop.
    pub mean_luma: f32,
    /// Fraction of that region at luma 250 or above (blown out).
    pub bright_fraction: f32,
    /// Fraction of the region's gradient energy (squared central differences of luma) that a 3x3 box blur
    /// removes: about 0.15 to 0.45 on ordinary photos, near 0 on a blurred face, whatever the contrast or light.
    pub sharpness: f32,
}

/// The limits each gate applies to a [`QualityMeasures`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct QualityLimits {
    /// Largest allowed [`QualityMeasures::second_face_area_ratio`].
    pub max_second_face_area_ratio: f32,
    /// Largest allowed [`QualityMeasures::outside_fraction`].
    pub max_outside_fraction: f32,
    /// Smallest allowed [`QualityMeasures::face_width`], in pixels.
    pub min_face_width: f32,
    /// Largest allowed [`QualityMeasures::face_extent`].
    pub max_face_extent: f32,
    /// Largest allowed absolute [`QualityMeasures::yaw`].
    pub max_abs_yaw: f32,
    /// Largest allowed absolute [`QualityMeasures::roll_degrees`].
    pub max_abs_roll_degrees: f32,
    /// Smallest allowed [`QualityMeasures::pitch`].
    pub min_pitch: f32,
    /// Largest allowed [`QualityMeasures::pitch`].
    pub max_pitch: f32,
    /// Smallest allowed [`QualityMeasures::mean_luma`].
    pub min_mean_luma: f32,
    /// Largest allowed [`QualityMeasures::mean_luma`].
    pub max_mean_luma: f32,
    /// Largest allowed [`QualityMeasures::bright_fraction`].
    pub max_bright_fraction: f32,
    /// Smallest allowed [`QualityMeasures::sharpness`].
    pub min_sharpness: f32,
}

impl QualityLimits {
    /// The limits the library applies (reasons and measured rejection rates in `docs/liveness.md`): another face
    /// at most a quarter of the main one's area; at most 5 % of the face box outside the picture; a face box at
    /// least 64 px wide (below that the embedder's crop is upsampled more than twice); a face box at most 90 % of
    /// the picture's width or height (the liveness models need context); |yaw| at most 0.4 (very roughly 40
    /// degrees); |roll| at most 25 degrees; pitch within 0.35..0.8 (0.57 frontal); mean face luma within 30..225
    /// and at most a quarter of the face blown out; sharpness at least 0.1 (a Gaussian blur of about 2 pixels on
    /// the 150-pixel aligned crop brings ordinary faces below it).
    pub const SHIPPED: QualityLimits = QualityLimits {
        max_second_face_area_ratio: 0.25,
        max_outside_fraction: 0.05,
        min_face_width: 64.0,
        max_face_extent: 0.9,
        max_abs_yaw: 0.4,
        max_abs_roll_degrees: 25.0,
        min_pitch: 0.35,
        max_pitch: 0.8,
        min_mean_luma: 30.0,
        max_mean_luma: 225.0,
        max_bright_fraction: 0.25,
        min_sharpness: 0.1,
    };

    /// Every gate `measures` fails, in the gates' order (empty when the picture is usable).
    pub fn failures(&self, m: &QualityMeasures) -> Vec<QualityIssue> {
        // Written so that a NaN measure fails its gate.
        let checks = [
            (QualityIssue::NoFace, m.faces > 0),
            (QualityIssue::SeveralFaces, m.second_face_area_ratio <= self.max_second_face_area_ratio),
            (QualityIssue::FaceCutOff, m.outside_fraction <= self.max_outside_fraction),
            (QualityIssue::FaceTooSmall, m.face_width >= self.min_face_width),
            (QualityIssue::FaceTooClose, m.face_extent <= self.max_face_extent),
            (QualityIssue::TurnedAway, m.yaw.abs() <= self.max_abs_yaw),
            (QualityIssue::HeadTilted, m.roll_degrees.abs() <= self.max_abs_roll_degrees),
            (QualityIssue::LookingUpOrDown, m.pitch >= self.min_pitch && m.pitch <= self.max_pitch),
            (QualityIssue::TooDark, m.mean_luma >= self.min_mean_luma),
            (
                QualityIssue::TooBright,
                m.mean_luma <= self.max_mean_luma && m.bright_fraction <= self.max_bright_fraction,
            ),
            (QualityIssue::Blurry, m.sharpness >= self.min_sharpness),
        ];
        checks.into_iter().filter(|(_, pass)| !pass).map(|(issue, _)| issue).collect()
    }

    /// The first gate `measures` fails, if any.
    pub fn check(&self, m: &QualityMeasures) -> Result<(), QualityIssue> {
        self.failures(m).into_iter().next().map_or(Ok(()), Err)
    }
}

/// The face a selfie is about (the largest) and its measures; `None` when there is no face or its landmarks are
/// degenerate.
pub fn measure<'a>(image: &RgbImage, faces: &'a [Face]) -> Option<(&'a Face, QualityMeasures)> {
    let face = FaceChoice::Largest.pick(faces, image.width(), image.height())?;
    let area = face.bbox.area();
    let second = faces.iter().filter(|f| !std::ptr::eq(*f, face)).map(|f| f.bbox.area()).fold(0.0f32, f32::max);
    let (w, h) = (image.width() as f32, image.height() as f32);
    let b = face.bbox;
    let inside = (b.x2.min(w) - b.x1.max(0.0)).max(0.0) * (b.y2.min(h) - b.y1.max(0.0)).max(0.0);
    let HeadPose { yaw, pitch, roll_degrees } = HeadPose::from_landmarks(&face.landmarks)?;
    let aligned = align_face(image, face)?;
    let (mean_luma, bright_fraction, sharpness) = photometry(&aligned);
    let measures = QualityMeasures {
        faces: faces.len(),
        second_face_area_ratio: if area > 0.0 { second / area } else { f32::INFINITY },
        outside_fraction: if area > 0.0 { 1.0 - inside / area } else { 1.0 },
        face_width: b.width(),
        face_extent: (b.width() / w).max(b.height() / h),
        yaw,
        roll_degrees,
        pitch,
        mean_luma,
        bright_fraction,
        sharpness,
    };
    Some((face, measures))
}

/// Measures the picture and applies `limits`: the chosen face and its measures, or the first issue.
pub fn assess<'a>(
    image: &RgbImage,
    faces: &'a [Face],
    limits: &QualityLimits,
) -> Result<(&'a Face, QualityMeasures), QualityIssue> {
    let (face, measures) = measure(image, faces).ok_or(QualityIssue::NoFace)?;
    limits.check(&measures)?;
    Ok((face, measures))
}

/// The central region of the aligned crop (eyebrows to below the mouth, cheek to cheek), in crop pixels.
const REGION: std::ops::Range<u32> = 35..115;

/// `(mean luma, fraction of luma >= 250, sharpness)` over [`REGION`] x [`REGION`] of the aligned crop.
///
/// Sharpness compares the gradient energy of the luma with that of its 3x3 box blur (the re-blur principle of
/// Crete et al., 2007): blurring an already blurred face changes little. As a ratio it does not depend on the
/// contrast, so dim or washed-out faces are not taken for blurred ones.
fn photometry(aligned: &RgbImage) -> (f32, f32, f32) {
    debug_assert_eq!(aligned.dimensions(), (ALIGNED_SIDE, ALIGNED_SIDE));
    let side = ALIGNED_SIDE as usize;
    let luma: Vec<f32> = aligned
        .pixels()
        .map(|p| 0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2]))
        .collect();
    // The box blur is needed on the region and one pixel around it; REGION keeps two pixels from every edge.
    let blurred: Vec<f32> = (0..side * side)
        .map(|i| {
            let (x, y) = (i % side, i / side);
            if x == 0 || y == 0 || x == side - 1 || y == side - 1 {
                return 0.0;
            }
            let mut sum = 0.0;
            for yy in y - 1..=y + 1 {
                sum += luma[yy * side + x - 1] + luma[yy * side + x] + luma[yy * side + x + 1];
            }
            sum / 9.0
        })
        .collect();
    let gradient_energy = |v: &[f32], x: usize, y: usize| {
        let gx = v[y * side + x + 1] - v[y * side + x - 1];
        let gy = v[(y + 1) * side + x] - v[(y - 1) * side + x];
        f64::from(gx * gx + gy * gy)
    };
    let (mut sum, mut bright, mut count) = (0.0f64, 0usize, 0usize);
    let (mut energy, mut energy_blurred) = (0.0f64, 0.0f64);
    for y in REGION.map(|v| v as usize) {
        for x in REGION.map(|v| v as usize) {
            let v = luma[y * side + x];
            sum += f64::from(v);
            bright += usize::from(v >= 250.0);
            count += 1;
            energy += gradient_energy(&luma, x, y);
            energy_blurred += gradient_energy(&blurred, x, y);
        }
    }
    let n = count as f64;
    let sharpness = if energy > 0.0 { 1.0 - energy_blurred / energy } else { 0.0 };
    ((sum / n) as f32, (bright as f64 / n) as f32, sharpness as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::detect::BoundingBox;

    /// The embedder's template, scaled by 2 and moved: an upright frontal face about 200 px wide.
    fn frontal(offset: (f32, f32)) -> [(f32, f32); 5] {
        crate::pipeline::align::TEMPLATE.map(|(x, y)| (2.0 * x + offset.0, 2.0 * y + offset.1))
    }

    fn measures() -> QualityMeasures {
        QualityMeasures {
            faces: 1,
            second_face_area_ratio: 0.0,
            outside_fraction: 0.0,
            face_width: 200.0,
            face_extent: 0.4,
            yaw: 0.0,
            roll_degrees: 0.0,
            pitch: 0.57,
            mean_luma: 120.0,
            bright_fraction: 0.0,
            sharpness: 0.3,
        }
    }

    #[test]
    fn each_gate_has_its_own_issue_in_order() {
        let limits = QualityLimits::SHIPPED;
        assert_eq!(limits.check(&measures()), Ok(()));
        type Spoil = fn(&mut QualityMeasures);
        let cases: [(QualityIssue, Spoil); 11] = [
            (QualityIssue::NoFace, |m| m.faces = 0),
            (QualityIssue::SeveralFaces, |m| m.second_face_area_ratio = 0.5),
            (QualityIssue::FaceCutOff, |m| m.outside_fraction = 0.2),
            (QualityIssue::FaceTooSmall, |m| m.face_width = 60.0),
            (QualityIssue::FaceTooClose, |m| m.face_extent = 0.95),
            (QualityIssue::TurnedAway, |m| m.yaw = -0.5),
            (QualityIssue::HeadTilted, |m| m.roll_degrees = 40.0),
            (QualityIssue::LookingUpOrDown, |m| m.pitch = 0.9),
            (QualityIssue::TooDark, |m| m.mean_luma = 20.0),
            (QualityIssue::TooBright, |m| m.bright_fraction = 0.5),
            (QualityIssue::Blurry, |m| m.sharpness = 0.05),
        ];
        for (issue, spoil) in cases {
            let mut m = measures();
            spoil(&mut m);
            assert_eq!(limits.failures(&m), vec![issue]);
        }
        let mut nan = measures();
        nan.pitch = f32::NAN;
        assert_eq!(limits.check(&nan), Err(QualityIssue::LookingUpOrDown), "NaN fails closed");
        let mut two = measures();
        two.mean_luma = 10.0;
        two.yaw = 1.0;
        assert_eq!(limits.check(&two), Err(QualityIssue::TurnedAway), "pose is fixed before light");
        assert_eq!(QualityIssue::ALL.len(), cases.len());
    }

    #[test]
    fn framing_measures_come_from_the_boxes() {
        let image = RgbImage::from_pixel(400, 400, image::Rgb([128, 128, 128]));
        let face = |x1: f32, w: f32| Face {
            score: 0.9,
            bbox: BoundingBox { x1, y1: 100.0, x2: x1 + w, y2: 100.0 + w },
            landmarks: frontal((x1 - 40.0, 10.0)),
        };
        let faces = [face(50.0, 100.0), face(300.0, 40.0)];
        let (chosen, m) = measure(&image, &faces).expect("measures");
        assert_eq!(chosen.bbox.x1, 50.0);
        assert_eq!(m.faces, 2);
        assert!((m.second_face_area_ratio - 0.16).abs() < 1e-6);
        assert_eq!(m.outside_fraction, 0.0);
        assert!((m.face_extent - 0.25).abs() < 1e-6);
        let cut = [face(-50.0, 100.0)];
        assert!((measure(&image, &cut).expect("measures").1.outside_fraction - 0.5).abs() < 1e-6);
        assert!(measure(&image, &[]).is_none());
        assert_eq!(assess(&image, &[], &QualityLimits::SHIPPED).err(), Some(QualityIssue::NoFace));
    }

    #[test]
    fn photometry_sees_light_and_detail() {
        let flat = RgbImage::from_pixel(ALIGNED_SIDE, ALIGNED_SIDE, image::Rgb([200, 200, 200]));
        let (mean, bright, sharpness) = photometry(&flat);
        assert!((mean - 200.0).abs() < 0.01 && bright == 0.0 && sharpness == 0.0);
        // Vertical stripes two pixels wide: central differences of +-255, all but erased by the box blur.
        let stripes = |x: u32, level: u8| image::Rgb(if x % 4 < 2 { [level, level, level] } else { [0, 0, 0] });
        let sharp = RgbImage::from_fn(ALIGNED_SIDE, ALIGNED_SIDE, |x, _| stripes(x, 255));
        let (mean, bright, sharpness) = photometry(&sharp);
        assert!((mean - 127.5).abs() < 0.1 && (bright - 0.5).abs() < 1e-6, "{mean} {bright}");
        assert!(sharpness > 0.8, "{sharpness}");
        // The same at a tenth of the contrast is as sharp.
        let dim = RgbImage::from_fn(ALIGNED_SIDE, ALIGNED_SIDE, |x, _| stripes(x, 25));
        assert!((photometry(&dim).2 - sharpness).abs() < 1e-3);
        // A smooth ramp loses almost nothing to the blur.
        let ramp = RgbImage::from_fn(ALIGNED_SIDE, ALIGNED_SIDE, |x, _| image::Rgb([x as u8, x as u8, x as u8]));
        assert!(photometry(&ramp).2.abs() < 1e-3);
    }

    // ---- the gates on real photos ----

    use crate::golden_tests::engine;
    use crate::pipeline::decode::decode_image;

    fn fixture(name: &str) -> RgbImage {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        decode_image(&std::fs::read(path).expect("fixture")).expect("decodes")
    }

    fn gate(image: &RgbImage) -> Result<QualityMeasures, QualityIssue> {
        let faces = engine().detector().detect(image).expect("detects");
        assess(image, &faces, &QualityLimits::SHIPPED).map(|(_, m)| m)
    }

    #[test]
    fn ordinary_photos_pass() {
        for name in [
            "obama.jpg",
            "obama1.jpg",
            "obama2.jpg",
            "biden.jpg",
            "biden2.jpg",
            "gray.jpg",
            "image_T1.jpg",
            "exif_orientation6.jpg",
        ] {
            if let Err(issue) = gate(&fixture(name)) {
                panic!("{name}: {issue:?}");
            }
        }
    }

    #[test]
    fn spoiled_photos_fail_with_their_own_issue() {
        let photo = fixture("obama1.jpg");
        let scaled = |f: f32| {
            let mut out = photo.clone();
            out.pixels_mut().for_each(|p| p.0 = p.0.map(|v| (f32::from(v) * f).min(255.0) as u8));
            out
        };
        assert_eq!(gate(&scaled(0.15)).err(), Some(QualityIssue::TooDark));
        assert_eq!(gate(&scaled(3.0)).err(), Some(QualityIssue::TooBright));
        assert_eq!(gate(&image::imageops::blur(&photo, 12.0)).err(), Some(QualityIssue::Blurry));
        let (w, h) = photo.dimensions();
        let mut twice = RgbImage::new(2 * w, h);
        image::imageops::replace(&mut twice, &photo, 0, 0);
        image::imageops::replace(&mut twice, &photo, i64::from(w), 0);
        assert_eq!(gate(&twice).err(), Some(QualityIssue::SeveralFaces));
        let small = image::imageops::resize(&photo, w / 6, h / 6, image::imageops::FilterType::Triangle);
        assert_eq!(gate(&small).err(), Some(QualityIssue::FaceTooSmall));
        assert_eq!(gate(&RgbImage::from_pixel(200, 200, image::Rgb([90, 90, 90]))).err(), Some(QualityIssue::NoFace));
    }
}
