//! Untrusted image bytes: every bad input is a typed error, never a panic; good ones decode upright.

use facecheck::{decode_image, Error};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn garbage_is_an_invalid_image() {
    for name in ["empty.jpg", "text.jpg", "truncated.jpg"] {
        let result = decode_image(&fixture(name));
        assert!(matches!(result, Err(Error::InvalidImage(_))), "{name}: {:?}", result.err());
    }
}

#[test]
fn absurd_dimensions_are_refused_before_allocation() {
    let result = decode_image(&fixture("huge_dimensions.png"));
    assert!(matches!(result, Err(Error::ImageTooLarge { width: 60000, height: 60000, .. })), "{:?}", result.err());
}

#[test]
fn sixteen_bit_and_cmyk_are_unsupported() {
    for name in ["rgb16.png", "cmyk.jpg"] {
        let result = decode_image(&fixture(name));
        assert!(matches!(result, Err(Error::UnsupportedImage(_))), "{name}: {:?}", result.err());
    }
}

#[test]
fn grayscale_and_rgba_decode_to_rgb() {
    let gray = decode_image(&fixture("gray.jpg")).expect("grayscale decodes");
    assert_eq!(gray.dimensions(), (400, 400));
    assert!(gray.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]), "gray is replicated to 3 channels");
    let rgba = decode_image(&fixture("rgba.png")).expect("rgba decodes");
    assert_eq!(rgba.dimensions(), (156, 300));
    // The alpha ramp starts at 0 on the left: dropping (not compositing) alpha keeps the photo's colours there.
    assert!(rgba.get_pixel(0, 150).0.iter().any(|&c| c > 0), "alpha is dropped, not composited onto black");
}

#[test]
fn exif_orientation_is_applied() {
    let rotated = decode_image(&fixture("exif_orientation6.jpg")).expect("decodes");
    let upright = decode_image(&fixture("obama1.jpg")).expect("decodes");
    assert_eq!(rotated.dimensions(), upright.dimensions());
    let mean_diff = rotated
        .as_raw()
        .iter()
        .zip(upright.as_raw())
        .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs() as u64)
        .sum::<u64>() as f64
        / upright.as_raw().len() as f64;
    assert!(mean_diff < 3.0, "the rotated file decodes to the upright photo (mean difference {mean_diff})");
}

#[test]
fn truncations_of_a_jpeg_never_panic() {
    let bytes = fixture("gray.jpg");
    for len in (0..bytes.len()).step_by(97) {
        let _ = decode_image(&bytes[..len]);
    }
}
