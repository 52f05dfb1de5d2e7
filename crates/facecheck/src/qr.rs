//! The dispatcher's enrollment QR code, read from a camera picture on the phone.
//!
//! The fleet service prints a QR code per enrollment (`facecheck-enroll:1?server=...&code=...`,
//! `crates/facecheck-fleet/src/codes.rs`); the driver holds it up to the front camera instead of typing the server
//! address and the code. The picture goes through the same bounded decoder as a selfie ([`decode_image`]: at most
//! 16 MiB, 4096 pixels a side, 16 megapixels), is averaged down to at most [`MAX_SCAN_SIDE`] pixels a side in grey,
//! and is scanned by `quircs`, a pure-Rust port of quirc (no dependency that tract does not already build with the
//! same features, so adding it compiles no tract crate again). The scan's work is bounded by the scanned size: quirc
//! keeps at most 32 finder patterns, 8 codes and 65,534 regions whatever the picture holds.
//!
//! What is returned is the code's text, and only when it is an enrollment code: the app parses its fields and the
//! fleet service checks the code itself. Nothing of the picture is kept or logged; the errors say what to do, not
//! what the picture showed.

use crate::pipeline::decode::decode_image;
use crate::{Error, Result};
use image::RgbImage;

/// The longest enrollment payload read (a server URL, two ids, a 14-character code and a 43-character key fit in a
/// fraction of it).
pub const MAX_QR_TEXT_BYTES: usize = 2048;

/// How every enrollment payload starts (version 1 of the format).
pub const ENROLLMENT_PREFIX: &str = "facecheck-enroll:1?";

/// The longest side of the grey picture that is scanned: a larger picture is averaged down by a whole factor first
/// (a 12-megapixel 4032x3024 camera picture is scanned at 1344x1008). A code held up to the camera spans a good part
/// of the frame, so its modules stay several pixels wide.
pub const MAX_SCAN_SIDE: u32 = 1600;

/// The enrollment payload of the QR code in `picture` (JPEG or PNG).
///
/// Errors: those of [`decode_image`] for a picture that does not decode or is too large;
/// [`Error::QrCodeNotFound`] when the picture shows no QR code; [`Error::QrCodeUnreadable`] when one is seen but
/// does not read (blurred, too far away, cut off, in glare); [`Error::NotEnrollmentCode`] when a code reads but is
/// not a Facecheck enrollment code (another QR code, or one longer than [`MAX_QR_TEXT_BYTES`]).
pub fn read_qr_code(picture: &[u8]) -> Result<String> {
    let image = decode_image(picture)?;
    scan(&image)
}

/// Scans a decoded picture: the enrollment payload of the first code that is one.
fn scan(image: &RgbImage) -> Result<String> {
    let (width, height, grey) = grey_scaled(image);
    if width == 0 || height == 0 {
        return Err(Error::QrCodeNotFound);
    }
    let mut reader = quircs::Quirc::default();
    let mut not_enrollment = None;
    let mut seen = false;
    for code in reader.identify(width, height, &grey) {
        seen = true;
        let Some(data) = code.ok().and_then(|code| code.decode().ok()) else {
            continue;
        };
        match enrollment_payload(&data.payload) {
            Ok(text) => return Ok(text),
            Err(reason) => not_enrollment = Some(reason),
        }
    }
    if let Some(reason) = not_enrollment {
        return Err(Error::NotEnrollmentCode(reason));
    }
    // Finder patterns without a code that reads: a code is there, but too blurred, small or cut off to read.
    if seen || reader.num_capstones() > 0 {
        return Err(Error::QrCodeUnreadable);
    }
    Err(Error::QrCodeNotFound)
}

/// The payload as text if it is an enrollment code, else why not.
fn enrollment_payload(payload: &[u8]) -> std::result::Result<String, &'static str> {
    if payload.len() > MAX_QR_TEXT_BYTES {
        return Err("longer than any enrollment code");
    }
    // The fleet service URL-encodes every field, so a payload is printable ASCII.
    if !payload.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err("not printable ASCII");
    }
    let text = std::str::from_utf8(payload).map_err(|_| "not text")?;
    let query = text.strip_prefix(ENROLLMENT_PREFIX).ok_or("not a facecheck-enroll:1 payload")?;
    let has = |name: &str| {
        query.split('&').any(|pair| pair.split_once('=').is_some_and(|(key, value)| key == name && !value.is_empty()))
    };
    if !has("server") || !has("code") {
        return Err("no server or no code");
    }
    Ok(text.to_owned())
}

/// The picture in grey (ITU-R BT.601 luma, in integers), averaged down by the smallest whole factor that brings its
/// longest side to at most [`MAX_SCAN_SIDE`]: (width, height, row-major pixels).
fn grey_scaled(image: &RgbImage) -> (usize, usize, Vec<u8>) {
    let (width, height) = image.dimensions();
    let factor = width.max(height).div_ceil(MAX_SCAN_SIDE).max(1);
    let (out_width, out_height) = ((width / factor) as usize, (height / factor) as usize);
    let (factor, row) = (factor as usize, width as usize * 3);
    let raw = image.as_raw();
    let mut grey = Vec::with_capacity(out_width * out_height);
    for y in 0..out_height {
        for x in 0..out_width {
            let mut sum = 0u32;
            for dy in 0..factor {
                let start = (y * factor + dy) * row + x * factor * 3;
                for rgb in raw[start..start + factor * 3].chunks_exact(3) {
                    sum += 299 * u32::from(rgb[0]) + 587 * u32::from(rgb[1]) + 114 * u32::from(rgb[2]);
                }
            }
            grey.push((sum / (1000 * (factor * factor) as u32)) as u8);
        }
    }
    (out_width, out_height, grey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb};
    use std::io::Cursor;

    /// `text` as a QR code drawn into a picture: dark modules on white, with a quiet zone, `scale` pixels a module,
    /// on a beige margin of `margin` pixels, then blurred by `sigma` as a phone would see a printed code.
    fn drawn(text: &str, scale: u32, margin: u32, sigma: f32) -> RgbImage {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("encodes");
        let (modules, colors) = (code.width() as u32, code.to_colors());
        let quiet = 4 * scale;
        let side = modules * scale + 2 * quiet;
        let mut picture = RgbImage::from_pixel(side + 2 * margin, side + 3 * margin, Rgb([235, 230, 220]));
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = ((x / scale).checked_sub(4), (y / scale).checked_sub(4));
                let dark = match (mx, my) {
                    (Some(mx), Some(my)) if mx < modules && my < modules => {
                        colors[(my * modules + mx) as usize] == qrcode::Color::Dark
                    }
                    _ => false,
                };
                let v = if dark { 40 } else { 245 };
                picture.put_pixel(x + margin, y + margin, Rgb([v, v, v]));
            }
        }
        if sigma > 0.0 {
            picture = image::imageops::blur(&picture, sigma);
        }
        picture
    }

    fn jpeg(picture: &RgbImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        picture.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg).expect("encodes");
        bytes
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
    }

    const PAYLOAD: &str = "facecheck-enroll:1?server=https%3A%2F%2Ffleet.example.org%2Ffacecheck&fleet=fleet-west\
                           &driver=driver-0815&code=7K2M-9QXD-4RTV&fk=11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn an_enrollment_code_is_read_from_a_jpeg_picture_of_it() {
        assert_eq!(read_qr_code(&jpeg(&drawn(PAYLOAD, 6, 120, 0.8))).expect("reads"), PAYLOAD);
    }

    #[test]
    fn the_committed_photo_of_a_tilted_printed_code_reads() {
        assert_eq!(read_qr_code(&fixture("enrollment_qr.jpg")).expect("reads"), PAYLOAD);
    }

    #[test]
    fn a_selfie_and_a_blank_picture_hold_no_code() {
        assert!(matches!(read_qr_code(&fixture("obama.jpg")), Err(Error::QrCodeNotFound)));
        let blank = RgbImage::from_pixel(640, 480, Rgb([128, 128, 128]));
        assert!(matches!(scan(&blank), Err(Error::QrCodeNotFound)));
        assert!(matches!(scan(&RgbImage::new(1, 1)), Err(Error::QrCodeNotFound)));
    }

    #[test]
    fn a_blurred_code_is_seen_but_unreadable() {
        assert!(matches!(read_qr_code(&fixture("enrollment_qr_blurred.jpg")), Err(Error::QrCodeUnreadable)));
    }

    #[test]
    fn a_code_that_is_not_an_enrollment_is_refused_with_why() {
        let cases = [
            ("https://example.org/menu?table=12", "not a facecheck-enroll:1 payload"),
            ("facecheck-enroll:1?server=https%3A%2F%2Ffleet.example.org", "no server or no code"),
            ("facecheck-enroll:1?server=&code=7K2M-9QXD-4RTV", "no server or no code"),
            ("facecheck-enroll:1?server=x y&code=7K2M", "not printable ASCII"),
        ];
        for (text, why) in cases {
            match scan(&drawn(text, 6, 60, 0.8)) {
                Err(Error::NotEnrollmentCode(reason)) => assert_eq!(reason, why, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let long = format!("{PAYLOAD}&x={}", "x".repeat(MAX_QR_TEXT_BYTES));
        assert!(matches!(
            scan(&drawn(&long, 3, 40, 0.0)),
            Err(Error::NotEnrollmentCode("longer than any enrollment code"))
        ));
        assert!(matches!(read_qr_code(&fixture("qr_not_enrollment.jpg")), Err(Error::NotEnrollmentCode(_))));
    }

    #[test]
    fn pictures_that_do_not_decode_are_image_errors() {
        assert!(matches!(read_qr_code(b"not a picture"), Err(Error::InvalidImage(_))));
        assert!(matches!(read_qr_code(&fixture("truncated.jpg")), Err(Error::InvalidImage(_))));
        assert!(matches!(read_qr_code(&fixture("huge_dimensions.png")), Err(Error::ImageTooLarge { .. })));
    }

    #[test]
    fn a_large_picture_is_scanned_averaged_down_and_its_code_still_reads() {
        // A code at the scale of a 12-megapixel camera picture: 24 pixels a module, scanned at a third of that.
        let picture = drawn(PAYLOAD, 24, 1000, 1.0);
        assert!(picture.width().max(picture.height()) > 2 * MAX_SCAN_SIDE);
        let (width, height, grey) = grey_scaled(&picture);
        assert!(width as u32 <= MAX_SCAN_SIDE && height as u32 <= MAX_SCAN_SIDE && grey.len() == width * height);
        assert_eq!(scan(&picture).expect("reads"), PAYLOAD);
    }

    #[test]
    fn the_costliest_picture_within_the_limits_is_scanned_to_an_error() {
        // 4000x4000 (the 16-megapixel limit): the top half tiled with finder patterns (many more than the 32 that
        // quirc keeps), the bottom half a checkerboard of one scanned pixel (more regions than the 65,534 it keeps).
        // Scanned at 1333x1333: it ends, with an error, within quirc's limits (a test does not assert how long it
        // takes). Skipped under qemu (`scripts/test-bionic.sh`): it checks no arithmetic there.
        let picture = RgbImage::from_fn(4000, 4000, |x, y| {
            let dark = if y < 2000 {
                let (mx, my) = ((x / 9 % 9) as i32 - 4, (y / 9 % 9) as i32 - 4);
                let ring = mx.abs().max(my.abs());
                ring <= 1 || ring == 3
            } else {
                (x / 3 + y / 3) % 2 == 0
            };
            if dark {
                Rgb([20, 20, 20])
            } else {
                Rgb([240, 240, 240])
            }
        });
        assert!(matches!(scan(&picture), Err(Error::QrCodeNotFound | Error::QrCodeUnreadable)));
    }
}
