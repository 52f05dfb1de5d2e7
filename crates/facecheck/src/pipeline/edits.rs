//! Small edits a photo may go through before it is judged: the camera's or a messenger's processing, or an
//! attacker touching up a printed photo or a screen shot. Not a pipeline stage: the robustness tests apply them to
//! the fixtures (`tests/liveness_edits.rs`), and `facecheck eval pad --perturb` to whole evaluation sets, so that a
//! decision is shown to hold under them and not only on the frames its threshold was chosen on.
//!
//! Every edit is deterministic and keeps the picture's size; [`Edit::ROBUSTNESS`] is the set both use.

use crate::pipeline::decode::decode_image;
use crate::pipeline::resample::{sample_affine, Affine};
use crate::{Error, Result};
use image::codecs::jpeg::JpegEncoder;
use image::{imageops, RgbImage};

/// One edit of a photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edit {
    /// Contrast scaled by this factor around the picture's mean grey level (as PIL's `ImageEnhance.Contrast`):
    /// `v -> mean + factor * (v - mean)` on each channel, with the mean of the BT.601 luma.
    Contrast(f32),
    /// Each channel `v -> 255 * (v / 255) ^ gamma`: below 1 brightens the shadows, above 1 darkens them.
    Gamma(f32),
    /// Unsharp mask: `v -> v + amount * (v - blur(v))`, with a Gaussian blur of `sigma` pixels and no threshold
    /// (PIL's `UnsharpMask(radius=2, percent=150, threshold=0)` is sigma 2, amount 1.5).
    Unsharp {
        /// The blur's standard deviation, in pixels.
        sigma: f32,
        /// How much of the detail the blur removes is added back.
        amount: f32,
    },
    /// Encoded as a baseline JPEG at this quality (1 to 100) and decoded again.
    Jpeg(u8),
    /// Turned by this many degrees (counter-clockwise) about the centre, and zoomed just enough that the picture
    /// stays filled, as a camera held at a slant sees the scene (no black corners).
    Rotate(f32),
}

impl Edit {
    /// The edits a liveness decision must hold under: contrast x0.7 to x1.5, gamma 0.67 and 1.5, a mild and a
    /// strong unsharp mask, JPEG at quality 50 and 85, and turns of 5 degrees either way.
    pub const ROBUSTNESS: [Edit; 13] = [
        Edit::Contrast(0.7),
        Edit::Contrast(0.85),
        Edit::Contrast(1.2),
        Edit::Contrast(1.4),
        Edit::Contrast(1.5),
        Edit::Gamma(0.67),
        Edit::Gamma(1.5),
        Edit::Unsharp { sigma: 1.0, amount: 1.0 },
        Edit::Unsharp { sigma: 2.0, amount: 1.5 },
        Edit::Jpeg(50),
        Edit::Jpeg(85),
        Edit::Rotate(-5.0),
        Edit::Rotate(5.0),
    ];

    /// A short name for reports: `contrast x1.5`, `gamma 0.67`, `unsharp 2/1.5`, `jpeg q50`, `rotate +5°`.
    pub fn name(&self) -> String {
        match self {
            Edit::Contrast(k) => format!("contrast x{k}"),
            Edit::Gamma(g) => format!("gamma {g}"),
            Edit::Unsharp { sigma, amount } => format!("unsharp {sigma}/{amount}"),
            Edit::Jpeg(quality) => format!("jpeg q{quality}"),
            Edit::Rotate(degrees) => format!("rotate {degrees:+}°"),
        }
    }

    /// The edited copy of `image`. Errors only for a JPEG quality outside 1..=100 or a picture too large to encode.
    pub fn apply(&self, image: &RgbImage) -> Result<RgbImage> {
        Ok(match *self {
            Edit::Contrast(factor) => contrast(image, factor),
            Edit::Gamma(gamma) => map_levels(image, |v| 255.0 * (v / 255.0).powf(gamma)),
            Edit::Unsharp { sigma, amount } => unsharp(image, sigma, amount),
            Edit::Jpeg(quality) => reencode(image, quality)?,
            Edit::Rotate(degrees) => rotate_filled(image, degrees),
        })
    }
}

/// Applies `f` to every channel value (0..255 in, rounded and clamped out), through a lookup table.
fn map_levels(image: &RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let table: Vec<u8> = (0..=255u8).map(|v| (f(f32::from(v)) + 0.5).floor().clamp(0.0, 255.0) as u8).collect();
    let mut out = image.clone();
    for v in out.iter_mut() {
        *v = table[usize::from(*v)];
    }
    out
}

fn contrast(image: &RgbImage, factor: f32) -> RgbImage {
    let pixels = (u64::from(image.width()) * u64::from(image.height())).max(1) as f64;
    let luma: f64 =
        image.pixels().map(|p| 0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2])).sum();
    let mean = (luma / pixels) as f32;
    map_levels(image, |v| mean + factor * (v - mean))
}

fn unsharp(image: &RgbImage, sigma: f32, amount: f32) -> RgbImage {
    let blurred = imageops::blur(image, sigma);
    let mut out = image.clone();
    for (v, b) in out.iter_mut().zip(blurred.iter()) {
        let (v0, b0) = (f32::from(*v), f32::from(*b));
        *v = (v0 + amount * (v0 - b0) + 0.5).floor().clamp(0.0, 255.0) as u8;
    }
    out
}

fn reencode(image: &RgbImage, quality: u8) -> Result<RgbImage> {
    if !(1..=100).contains(&quality) {
        return Err(Error::UnsupportedImage(format!("JPEG quality {quality} is outside 1..=100")));
    }
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .map_err(|e| Error::UnsupportedImage(format!("cannot encode as JPEG: {e}")))?;
    decode_image(&bytes)
}

/// Turned by `degrees` about the centre and zoomed by the least factor that leaves no corner outside the source:
/// for a `w x h` picture and angle `a`, `cos a + max(w / h, h / w) * sin a` (with `|a|`).
fn rotate_filled(image: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let aspect = if w > 0.0 && h > 0.0 { (w / h).max(h / w) } else { 1.0 };
    let zoom = cos.abs() + aspect * sin.abs();
    let (cx, cy) = (w / 2.0, h / 2.0);
    // Output (x, y) -> source: undo the zoom, turn by -a about the centre (y grows downwards, so a positive angle
    // turns the content counter-clockwise on screen).
    let (a, b) = (cos / zoom, -sin / zoom);
    let (c, d) = (sin / zoom, cos / zoom);
    let map = Affine([a, b, cx - a * cx - b * cy, c, d, cy - c * cx - d * cy]);
    sample_affine(image, &map, image.width(), image.height())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 100]))
    }

    #[test]
    fn every_edit_keeps_the_size_and_changes_the_picture() {
        let image = gradient();
        for edit in Edit::ROBUSTNESS {
            let edited = edit.apply(&image).expect("applies");
            assert_eq!(edited.dimensions(), image.dimensions(), "{}", edit.name());
            assert_ne!(edited, image, "{} left the picture as it was", edit.name());
        }
    }

    #[test]
    fn contrast_scales_around_the_mean_grey() {
        let image = RgbImage::from_fn(2, 1, |x, _| image::Rgb([if x == 0 { 100 } else { 200 }; 3]));
        let out = contrast(&image, 1.5);
        // Mean luma 150: 100 -> 75, 200 -> 225.
        assert_eq!(out.get_pixel(0, 0).0, [75; 3]);
        assert_eq!(out.get_pixel(1, 0).0, [225; 3]);
        assert_eq!(contrast(&image, 1.0), image);
    }

    #[test]
    fn gamma_moves_the_middle_and_keeps_the_ends() {
        let image = RgbImage::from_fn(3, 1, |x, _| image::Rgb([[0, 128, 255][x as usize]; 3]));
        let bright = Edit::Gamma(0.5).apply(&image).expect("applies");
        assert_eq!([0, 1, 2].map(|x| bright.get_pixel(x, 0).0[0]), [0, 181, 255]);
    }

    #[test]
    fn a_rotation_turns_the_content_counter_clockwise_without_black_corners() {
        // A bright dot right of the centre moves up (smaller y) when the picture turns counter-clockwise.
        let mut image = RgbImage::from_pixel(101, 101, image::Rgb([50, 50, 50]));
        for y in 48..53 {
            for x in 78..83 {
                image.put_pixel(x, y, image::Rgb([250, 250, 250]));
            }
        }
        let turned = rotate_filled(&image, 10.0);
        let brightest = turned.enumerate_pixels().max_by_key(|(_, _, p)| p.0[0]).map(|(x, y, _)| (x, y));
        let (x, y) = brightest.expect("pixels");
        assert!(y < 48 && x > 75, "the dot is at ({x}, {y})");
        for (x, y) in [(0, 0), (100, 0), (0, 100), (100, 100)] {
            assert!(turned.get_pixel(x, y).0[0] >= 45, "corner ({x}, {y}) is black");
        }
    }

    #[test]
    fn an_unsharp_mask_steepens_an_edge_and_leaves_flat_areas() {
        let edge = RgbImage::from_fn(40, 40, |x, _| image::Rgb([if x < 20 { 60 } else { 180 }; 3]));
        let out = Edit::Unsharp { sigma: 2.0, amount: 1.5 }.apply(&edge).expect("applies");
        assert!(out.get_pixel(18, 20).0[0] < 60 && out.get_pixel(21, 20).0[0] > 180, "overshoot on both sides");
        assert_eq!(out.get_pixel(2, 20).0[0], 60);
        assert_eq!(out.get_pixel(37, 20).0[0], 180);
    }

    #[test]
    fn jpeg_reencoding_stays_close_and_rejects_bad_qualities() {
        let image = gradient();
        let out = Edit::Jpeg(85).apply(&image).expect("re-encodes");
        let worst = out.as_raw().iter().zip(image.as_raw()).map(|(a, b)| a.abs_diff(*b)).max();
        assert!(worst.is_some_and(|d| d < 40), "{worst:?}");
        assert!(Edit::Jpeg(0).apply(&image).is_err());
        assert!(Edit::Jpeg(101).apply(&image).is_err());
    }
}
