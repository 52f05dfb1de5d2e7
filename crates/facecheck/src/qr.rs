//! The dispatcher's enrollment QR code, read from a camera picture on the phone.
//!
//! The fleet service prints a QR code per enrollment (`facecheck-enroll:1?server=...&code=...`,
//! `crates/facecheck-fleet/src/codes.rs`); the driver holds it up to the front camera instead of typing the server
//! address and the code. The picture goes through the same bounded decoder as a selfie ([`decode_image`]), then a
//! pure-Rust QR reader. What is returned is the code's text, checked only for its size: the app parses it and the
//! fleet service checks the code itself.

use crate::pipeline::decode::decode_image;
use crate::{Error, Result};

/// The longest enrollment payload read (a server URL, two ids, a 14-character code and a 43-character key fit in a
/// fraction of it).
pub const MAX_QR_TEXT_BYTES: usize = 2048;

/// The text of the first QR code found in `picture` (JPEG or PNG), or `None` when the picture holds none that reads.
///
/// Errors: those of [`decode_image`] for a picture that does not decode or is too large, and
/// [`Error::InvalidQrCode`] for a code whose text is longer than [`MAX_QR_TEXT_BYTES`].
pub fn read_qr_code(picture: &[u8]) -> Result<Option<String>> {
    let image = decode_image(picture)?;
    let (width, height) = image.dimensions();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
        let [r, g, b] = image.get_pixel(x as u32, y as u32).0;
        // ITU-R BT.601 luma, in integers.
        ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000) as u8
    });
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode() {
            if text.len() > MAX_QR_TEXT_BYTES {
                return Err(Error::InvalidQrCode("the QR code's text is too long for an enrollment code"));
            }
            return Ok(Some(text));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};
    use std::io::Cursor;

    /// `text` as a QR code drawn into a camera-sized picture: dark modules on white, with a quiet zone, scaled,
    /// then blurred a little and encoded as JPEG, as a phone would see a printed code.
    fn picture_of(text: &str, scale: u32) -> Vec<u8> {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("encodes");
        let (modules, colors) = (code.width() as u32, code.to_colors());
        let (quiet, margin) = (4 * scale, 120);
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
        let picture = image::imageops::blur(&picture, 0.8);
        let mut bytes = Vec::new();
        picture.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg).expect("encodes");
        bytes
    }

    const PAYLOAD: &str = "facecheck-enroll:1?server=https%3A%2F%2Ffleet.example.org%2Ffacecheck&fleet=fleet-west\
                           &driver=driver-0815&code=7K2M-9QXD-4RTV&fk=11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn an_enrollment_code_is_read_from_a_jpeg_picture_of_it() {
        assert_eq!(read_qr_code(&picture_of(PAYLOAD, 6)).expect("decodes").as_deref(), Some(PAYLOAD));
    }

    #[test]
    fn the_committed_photo_of_a_tilted_printed_code_reads() {
        let photo =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/enrollment_qr.jpg")).expect("fixture");
        assert_eq!(read_qr_code(&photo).expect("decodes").as_deref(), Some(PAYLOAD));
    }

    #[test]
    fn a_selfie_without_a_code_reads_as_none() {
        let selfie = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/obama.jpg")).expect("fixture");
        assert_eq!(read_qr_code(&selfie).expect("decodes"), None);
    }

    #[test]
    fn a_code_too_long_for_an_enrollment_is_refused_and_bad_pictures_are_errors() {
        let long = "x".repeat(MAX_QR_TEXT_BYTES + 1);
        assert!(matches!(read_qr_code(&picture_of(&long, 3)), Err(Error::InvalidQrCode(_))));
        assert!(read_qr_code(b"not a picture").is_err());
    }
}
