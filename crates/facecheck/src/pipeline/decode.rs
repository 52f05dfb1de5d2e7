//! Decoding untrusted JPEG/PNG bytes into upright 8-bit RGB, within fixed bounds.
//!
//! # Bounds
//! A selfie is at most [`MAX_ENCODED_BYTES`] (16 MiB) of JPEG or PNG, [`MAX_SIDE`] (4096) pixels a side and
//! [`MAX_PIXELS`] (16 megapixels) in all: a phone's 12-megapixel selfie camera (4032x3024) fits, a 50-megapixel
//! main camera does not. The byte count is checked first, the sizes as soon as the header is read, before any pixel
//! memory is allocated; and what the decoders allocate besides the pixels (a PNG's ICC profile, text and EXIF
//! chunks, row buffers) is held to [`MAX_DECODER_SCRATCH`] through `image::Limits`, so a small file that inflates
//! into a large profile is refused.
//!
//! One decode therefore holds at most the RGB result (3 bytes a pixel, 48 MB at the limit) and, for a moment, one
//! of: the 4-byte pixels of an RGBA PNG before the alpha is dropped (64 MB), a progressive JPEG's coefficients
//! (2 bytes a sample, up to 96 MB for three full-resolution components), or a second RGB buffer while an EXIF
//! rotation is applied. A check-in decodes its frames one at a time and keeps the picture of the best so far, so
//! with [`MAX_FRAMES`](crate::checkin::MAX_FRAMES) frames at these limits its peak resident set is the models, the
//! frames' bytes (at most 8 x 16 MiB) and about 200 MiB: measured on x86_64, 417 to 432 MiB in all, of which
//! 90 MiB of loaded models, 128 MiB of frames and 199 to 214 MiB for the check-in. `tests/checkin_memory.rs`
//! measures it (the costliest frames: progressive JPEGs padded to the byte limit) and holds the check-in to 256 MiB.

use crate::{Error, Result};
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use std::io::Cursor;

/// Largest accepted encoded image, in bytes (16 MiB; a 12-megapixel camera JPEG is 2 to 6 MiB).
pub const MAX_ENCODED_BYTES: usize = 16 << 20;
/// Largest accepted side, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// Largest accepted pixel count (16 megapixels: 48 MB of RGB).
pub const MAX_PIXELS: u64 = 16_000_000;
/// What a decoder may allocate besides the pixels, in bytes (8 MiB).
pub const MAX_DECODER_SCRATCH: u64 = 8 << 20;

/// Decodes JPEG or PNG bytes to 8-bit RGB with the EXIF orientation applied.
///
/// Accepts 8-bit RGB, RGBA (alpha dropped) and grayscale. Refuses, with a typed error and before allocating pixel
/// memory, anything else: more than [`MAX_ENCODED_BYTES`], images over [`MAX_SIDE`] or [`MAX_PIXELS`], 16-bit and
/// CMYK images, other formats, truncated or corrupt data, and files whose decoding needs more than
/// [`MAX_DECODER_SCRATCH`] besides the pixels.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::InvalidImage("empty input".into()));
    }
    check_encoded_len(bytes.len())?;
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::InvalidImage(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg) => check_jpeg_structure(bytes)?,
        Some(ImageFormat::Png) => {}
        _ => return Err(Error::InvalidImage("neither JPEG nor PNG".into())),
    }
    // The decoder reads the header: refuse absurd sizes before any pixel memory is allocated. It is held to the
    // scratch limit from the start (a PNG's metadata chunks are read with the header), to the size limits only once
    // the size has been reported with its own error.
    reader.limits(limits(None));
    let mut decoder = reader.into_decoder().map_err(to_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::InvalidImage("zero-sized image".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(too_large(width, height));
    }
    decoder.set_limits(limits(Some(MAX_SIDE))).map_err(to_error)?;
    match decoder.original_color_type() {
        ExtendedColorType::L8
        | ExtendedColorType::La8
        | ExtendedColorType::Rgb8
        | ExtendedColorType::Rgba8
        | ExtendedColorType::L1
        | ExtendedColorType::L2
        | ExtendedColorType::L4
        | ExtendedColorType::La1
        | ExtendedColorType::La2
        | ExtendedColorType::La4
        | ExtendedColorType::Rgb1
        | ExtendedColorType::Rgb2
        | ExtendedColorType::Rgb4
        | ExtendedColorType::Rgba1
        | ExtendedColorType::Rgba2
        | ExtendedColorType::Rgba4 => {}
        other => return Err(Error::UnsupportedImage(format!("{other:?} pixels"))),
    }
    let orientation = decoder.orientation().map_err(to_error)?;
    // To RGB before turning: a 4-byte picture is dropped at once rather than rotated (and copied) first.
    let mut image = DynamicImage::ImageRgb8(DynamicImage::from_decoder(decoder).map_err(to_error)?.into_rgb8());
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Refuses more than [`MAX_ENCODED_BYTES`] of encoded image: the first check of [`decode_image`], for callers that
/// can refuse the bytes before they copy them (the JNI bridge).
pub fn check_encoded_len(len: usize) -> Result<()> {
    if len > MAX_ENCODED_BYTES {
        return Err(Error::InvalidImage(format!("{len} bytes, more than {MAX_ENCODED_BYTES}")));
    }
    Ok(())
}

/// The decoder limits: [`MAX_DECODER_SCRATCH`] besides the pixels, and at most `max_side` pixels a side.
fn limits(max_side: Option<u32>) -> Limits {
    let mut limits = Limits::no_limits();
    limits.max_image_width = max_side;
    limits.max_image_height = max_side;
    limits.max_alloc = Some(MAX_DECODER_SCRATCH);
    limits
}

/// Walks the JPEG marker segments: refuses CMYK/YCCK (four components), which the decoder would silently convert,
/// and files that end before their end-of-image marker, which the decoder would silently fill with grey.
fn check_jpeg_structure(bytes: &[u8]) -> Result<()> {
    let truncated = || Error::InvalidImage("truncated JPEG".into());
    let mut at = 2; // after SOI
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else { return Err(truncated()) };
        let length = match (bytes.get(at + 2), bytes.get(at + 3)) {
            (Some(&hi), Some(&lo)) => usize::from(hi) << 8 | usize::from(lo),
            _ => return Err(truncated()),
        };
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame && bytes.get(at + 9).is_some_and(|&components| components == 4) {
            return Err(Error::UnsupportedImage("CMYK JPEG".into()));
        }
        if marker == 0xDA {
            // Entropy-coded data follows; inside it 0xFF is always followed by 0x00 or a restart marker, so the
            // first 0xFF 0xD9 is the end of the image.
            let data = bytes.get(at + 2 + length..).ok_or_else(truncated)?;
            return if data.windows(2).any(|w| w == [0xFF, 0xD9]) { Ok(()) } else { Err(truncated()) };
        }
        at += 2 + length;
    }
}

fn too_large(width: u32, height: u32) -> Error {
    Error::ImageTooLarge { width, height, max_side: MAX_SIDE, max_pixels: MAX_PIXELS }
}

fn to_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(_) => Error::InvalidImage("the decoder would need more memory than allowed".into()),
        image::ImageError::Unsupported(u) => Error::UnsupportedImage(u.to_string()),
        other => Error::InvalidImage(other.to_string()),
    }
}
