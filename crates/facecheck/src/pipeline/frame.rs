//! The frames of an active check: encoded pictures (JPEG or PNG) or NV21 camera preview buffers, each with its
//! capture time, checked against fixed bounds before anything is decoded.
//!
//! # NV21
//! Android's camera preview format (`ImageFormat.NV21`): the `width x height` luma plane, one byte a pixel, row
//! after row, then the chroma at half resolution in both directions, interleaved V then U (`V0 U0 V1 U1 ...`, one
//! pair per 2x2 block of pixels, `width` bytes a chroma row). So a frame is exactly `width * height * 3 / 2` bytes,
//! and width and height are even. The values are full-range YCbCr (JFIF, what Android's camera and its
//! `YuvImage.compressToJpeg` use): [`nv21_to_rgb`] converts each pixel with the JFIF equations in 16-bit fixed
//! point (the same bytes out on every architecture), taking the chroma of the pixel's 2x2 block as it is (no
//! interpolation).
//!
//! The buffer is as the sensor delivers it, and the app tells the rotation that makes it upright: `rotation`
//! degrees clockwise (CameraX's `ImageInfo.getRotationDegrees()`; for the Camera1 API, the usual
//! `(sensorOrientation ± displayRotation)` of the front camera). The conversion applies it, so the core sees an
//! upright face. The buffer must not be mirrored (a front camera's buffer is not; only its on-screen preview is):
//! "left" is the subject's own left.
//!
//! # Bounds
//! An NV21 frame is at most [`MAX_NV21_SIDE`] pixels a side and [`MAX_NV21_PIXELS`] in all (a 1080p preview; the
//! detector sees 320x320 whatever the frame's size, so larger previews buy nothing), at least [`MIN_NV21_SIDE`] a
//! side, its rotation one of 0, 90, 180 and 270, its length exactly `width * height * 3 / 2`. An encoded frame is
//! within the decoder's bounds ([`decode`](crate::pipeline::decode)). A sequence holds at most
//! [`MAX_SEQUENCE_BYTES`] in all. [`FrameData::check`] and [`check_sequence`] apply these from the lengths and the
//! stated sizes alone, before any pixel is read.

use crate::pipeline::decode::{check_encoded_len, decode_image};
use crate::{Error, Result};
use image::RgbImage;

/// Largest side of an NV21 frame, in pixels.
pub const MAX_NV21_SIDE: u32 = 1920;
/// Largest NV21 frame, in pixels (1920x1080).
pub const MAX_NV21_PIXELS: u64 = 1920 * 1080;
/// Smallest side of an NV21 frame, in pixels.
pub const MIN_NV21_SIDE: u32 = 16;
/// Most bytes of frames one sequence holds, in all (64 MiB: 64 NV21 frames of 640x480 are 28 MiB, of 1280x720
/// 84 MiB).
pub const MAX_SEQUENCE_BYTES: usize = 64 << 20;

/// How far a frame is to be turned, clockwise, to be upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Upright as it is.
    R0,
    /// A quarter turn clockwise.
    R90,
    /// A half turn.
    R180,
    /// Three quarter turns clockwise (a quarter turn anticlockwise).
    R270,
}

impl Rotation {
    /// 0, 90, 180 or 270 degrees; anything else is `None`.
    pub fn from_degrees(degrees: i32) -> Option<Rotation> {
        match degrees {
            0 => Some(Rotation::R0),
            90 => Some(Rotation::R90),
            180 => Some(Rotation::R180),
            270 => Some(Rotation::R270),
            _ => None,
        }
    }

    /// The angle, in degrees clockwise.
    pub fn degrees(self) -> u32 {
        match self {
            Rotation::R0 => 0,
            Rotation::R90 => 90,
            Rotation::R180 => 180,
            Rotation::R270 => 270,
        }
    }
}

/// The pixels of one frame, not yet decoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FrameData<'a> {
    /// A JPEG or PNG (EXIF orientation applied when decoded).
    Encoded(&'a [u8]),
    /// An NV21 camera buffer (see the [module doc](self)).
    Nv21 {
        /// Width of the buffer as stored, in pixels (even).
        width: u32,
        /// Height of the buffer as stored, in pixels (even).
        height: u32,
        /// The clockwise turn that makes it upright.
        rotation: Rotation,
        /// `width * height * 3 / 2` bytes.
        data: &'a [u8],
    },
}

impl std::fmt::Debug for FrameData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sizes only: never the pixels.
        match self {
            FrameData::Encoded(bytes) => write!(f, "Encoded({} bytes)", bytes.len()),
            FrameData::Nv21 { width, height, rotation, data } => {
                write!(f, "Nv21({width}x{height}, {}°, {} bytes)", rotation.degrees(), data.len())
            }
        }
    }
}

impl FrameData<'_> {
    /// The bytes it holds.
    pub fn len(&self) -> usize {
        match self {
            FrameData::Encoded(bytes) => bytes.len(),
            FrameData::Nv21 { data, .. } => data.len(),
        }
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bounds of the [module doc](self), from the sizes alone: [`Error::InvalidImage`] for an encoded frame
    /// that is empty or too long, [`Error::InvalidFrame`] for an NV21 frame of the wrong size or length.
    pub fn check(&self) -> Result<()> {
        match *self {
            FrameData::Encoded(bytes) => {
                if bytes.is_empty() {
                    return Err(Error::InvalidImage("empty input".into()));
                }
                check_encoded_len(bytes.len())
            }
            FrameData::Nv21 { width, height, data, .. } => check_nv21(width, height, data.len()),
        }
    }

    /// The upright RGB picture: decoded ([`decode_image`]) or converted ([`nv21_to_rgb`]).
    pub fn to_rgb(&self) -> Result<RgbImage> {
        match *self {
            FrameData::Encoded(bytes) => decode_image(bytes),
            FrameData::Nv21 { width, height, rotation, data } => nv21_to_rgb(width, height, rotation, data),
        }
    }
}

/// A frame and when it was captured: milliseconds on a monotonic clock of the app's choice (Android's
/// `SystemClock.elapsedRealtime()` or the camera's timestamp divided by 10^6); only differences between the
/// frames of one sequence are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedFrame<'a> {
    /// The pixels.
    pub data: FrameData<'a>,
    /// The capture time, in milliseconds.
    pub time_ms: u64,
}

/// The bounds of a sequence of `count` frames of `sizes` bytes each, before anything is copied or decoded: at
/// most `max_frames` ([`Error::CheckinFrameCount`]) and [`MAX_SEQUENCE_BYTES`] in all ([`Error::FramesTooLarge`]).
pub fn check_sequence(count: usize, max_frames: usize, sizes: impl IntoIterator<Item = usize>) -> Result<()> {
    if count > max_frames {
        return Err(Error::CheckinFrameCount { given: count, max: max_frames });
    }
    let total = sizes.into_iter().fold(0usize, |sum, len| sum.saturating_add(len));
    if total > MAX_SEQUENCE_BYTES {
        return Err(Error::FramesTooLarge { given: total, max: MAX_SEQUENCE_BYTES });
    }
    Ok(())
}

/// The bounds of an NV21 frame of `width x height` stated and `len` bytes given ([`Error::InvalidFrame`]).
pub fn check_nv21(width: u32, height: u32, len: usize) -> Result<()> {
    let sides = MIN_NV21_SIDE..=MAX_NV21_SIDE;
    if !sides.contains(&width) || !sides.contains(&height) {
        return Err(Error::InvalidFrame(format!(
            "an NV21 frame of {width}x{height}: each side must be {MIN_NV21_SIDE} to {MAX_NV21_SIDE} pixels"
        )));
    }
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(Error::InvalidFrame(format!("an NV21 frame of {width}x{height}: both sides must be even")));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_NV21_PIXELS {
        return Err(Error::InvalidFrame(format!(
            "an NV21 frame of {width}x{height}: more than {MAX_NV21_PIXELS} pixels"
        )));
    }
    let expected = pixels * 3 / 2;
    if u64::try_from(len) != Ok(expected) {
        return Err(Error::InvalidFrame(format!("an NV21 frame of {width}x{height} is {expected} bytes, {len} given")));
    }
    Ok(())
}

/// Converts an NV21 buffer (see the [module doc](self)) to upright RGB: turned `rotation` clockwise, so a quarter
/// turn gives a `height x width` picture. Checks the bounds first ([`check_nv21`]).
pub fn nv21_to_rgb(width: u32, height: u32, rotation: Rotation, data: &[u8]) -> Result<RgbImage> {
    check_nv21(width, height, data.len())?;
    let (w, h) = (width as usize, height as usize);
    let (out_w, out_h) = match rotation {
        Rotation::R0 | Rotation::R180 => (width, height),
        Rotation::R90 | Rotation::R270 => (height, width),
    };
    let (luma, chroma) = data.split_at(w * h);
    let mut out = RgbImage::new(out_w, out_h);
    for (ox, oy, pixel) in out.enumerate_pixels_mut() {
        let (ox, oy) = (ox as usize, oy as usize);
        // The stored pixel that lands at (ox, oy) once turned (as `image::imageops::rotate90` etc. move them).
        let (x, y) = match rotation {
            Rotation::R0 => (ox, oy),
            Rotation::R90 => (oy, h - 1 - ox),
            Rotation::R180 => (w - 1 - ox, h - 1 - oy),
            Rotation::R270 => (w - 1 - oy, ox),
        };
        let at = (y / 2) * w + (x / 2) * 2;
        pixel.0 = ycbcr_to_rgb(luma[y * w + x], chroma[at + 1], chroma[at]);
    }
    Ok(out)
}

/// JFIF full-range YCbCr to RGB, in 16.16 fixed point, rounded and clamped.
fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let y = i32::from(y) << 16;
    let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
    let channel = |v: i32| ((v + (1 << 15)) >> 16).clamp(0, 255) as u8;
    [
        channel(y + 91_881 * cr),               // 1.402
        channel(y - 22_554 * cb - 46_802 * cr), // 0.344136, 0.714136
        channel(y + 116_130 * cb),              // 1.772
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RGB to NV21 with the JFIF equations, each 2x2 block's chroma the mean of its four pixels: the inverse of
    /// the conversion under test, written independently in floating point.
    fn to_nv21(image: &RgbImage) -> Vec<u8> {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let mut out = vec![0u8; w * h * 3 / 2];
        let rgb = |x: usize, y: usize| image.get_pixel(x as u32, y as u32).0.map(f64::from);
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = rgb(x, y);
                out[y * w + x] = (0.299 * r + 0.587 * g + 0.114 * b).round().clamp(0.0, 255.0) as u8;
            }
        }
        for by in 0..h / 2 {
            for bx in 0..w / 2 {
                let (mut cb, mut cr) = (0.0, 0.0);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let [r, g, b] = rgb(2 * bx + dx, 2 * by + dy);
                    cb += 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b;
                    cr += 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b;
                }
                let at = w * h + by * w + bx * 2;
                out[at] = (cr / 4.0).round().clamp(0.0, 255.0) as u8;
                out[at + 1] = (cb / 4.0).round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }

    fn fixture() -> RgbImage {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/obama.jpg");
        let image = decode_image(&std::fs::read(path).expect("fixture")).expect("decodes");
        // Even sides, as NV21 needs.
        image::imageops::crop_imm(&image, 0, 0, image.width() & !1, image.height() & !1).to_image()
    }

    #[test]
    fn nv21_round_trip_of_a_photo_is_close() {
        let image = fixture();
        let nv21 = to_nv21(&image);
        let back = nv21_to_rgb(image.width(), image.height(), Rotation::R0, &nv21).expect("converts");
        assert_eq!(back.dimensions(), image.dimensions());
        let diffs: Vec<i32> =
            image.as_raw().iter().zip(back.as_raw()).map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs()).collect();
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        // The chroma is shared by four pixels: colour edges blur, flat regions come back within rounding.
        assert!(mean < 2.5, "mean absolute difference {mean}");
        let within_8 = diffs.iter().filter(|&&d| d <= 8).count() as f64 / diffs.len() as f64;
        assert!(within_8 > 0.97, "{within_8} of the values within 8 levels");
    }

    #[test]
    fn nv21_greys_and_primaries_convert_exactly() {
        // A 16x16 frame: grey levels come back exactly (no chroma); saturated colours within a level or two.
        for (rgb, tolerance) in [([0, 0, 0], 0), ([128, 128, 128], 0), ([255, 255, 255], 0), ([200, 30, 40], 2)] {
            let image = RgbImage::from_pixel(16, 16, image::Rgb(rgb));
            let back = nv21_to_rgb(16, 16, Rotation::R0, &to_nv21(&image)).expect("converts");
            for p in back.pixels() {
                for c in 0..3 {
                    assert!((i32::from(p.0[c]) - i32::from(rgb[c])).abs() <= tolerance, "{rgb:?} -> {:?}", p.0);
                }
            }
        }
    }

    #[test]
    fn nv21_rotations_turn_clockwise() {
        let image = fixture();
        let nv21 = to_nv21(&image);
        let (w, h) = image.dimensions();
        let upright = nv21_to_rgb(w, h, Rotation::R0, &nv21).expect("converts");
        let turned = |r| nv21_to_rgb(w, h, r, &nv21).expect("converts");
        assert_eq!(turned(Rotation::R90), image::imageops::rotate90(&upright));
        assert_eq!(turned(Rotation::R180), image::imageops::rotate180(&upright));
        assert_eq!(turned(Rotation::R270), image::imageops::rotate270(&upright));
        assert_eq!(turned(Rotation::R90).dimensions(), (h, w));
        for degrees in [0, 90, 180, 270] {
            assert_eq!(Rotation::from_degrees(degrees).map(|r| r.degrees() as i32), Some(degrees));
        }
        for degrees in [-90, 45, 360, i32::MIN] {
            assert_eq!(Rotation::from_degrees(degrees), None);
        }
    }

    #[test]
    fn nv21_bounds_are_checked_before_reading() {
        let ok = |w: u32, h: u32| check_nv21(w, h, (w * h * 3 / 2) as usize);
        assert!(ok(640, 480).is_ok() && ok(1080, 1920).is_ok() && ok(16, 16).is_ok());
        for (w, h) in [(0, 0), (14, 16), (641, 480), (640, 481), (1922, 1080), (1920, 1088), (4096, 2)] {
            assert!(matches!(ok(w, h), Err(Error::InvalidFrame(_))), "{w}x{h}");
        }
        for len in [0, 460_799, 460_801, usize::MAX] {
            assert!(matches!(check_nv21(640, 480, len), Err(Error::InvalidFrame(_))), "{len}");
        }
        let short = vec![0u8; 100];
        assert!(nv21_to_rgb(640, 480, Rotation::R0, &short).is_err());
        assert!(matches!(FrameData::Encoded(&[]).check(), Err(Error::InvalidImage(_))));
        let text = format!("{:?}", FrameData::Nv21 { width: 16, height: 16, rotation: Rotation::R90, data: &[7; 384] });
        assert_eq!(text, "Nv21(16x16, 90°, 384 bytes)");
    }

    #[test]
    fn sequences_are_bounded_by_count_and_bytes() {
        assert!(check_sequence(64, 64, [1 << 20; 64]).is_ok());
        assert!(matches!(check_sequence(1_000, 64, [0; 0]), Err(Error::CheckinFrameCount { given: 1_000, max: 64 })));
        assert!(matches!(check_sequence(2, 64, [usize::MAX, 1]), Err(Error::FramesTooLarge { .. })));
        assert!(matches!(check_sequence(5, 64, [16 << 20; 5]), Err(Error::FramesTooLarge { .. })));
    }
}
