//! Decoding untrusted JPEG/PNG bytes into upright 8-bit RGB.

use crate::{Error, Result};
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Largest accepted side, in pixels (a 50-megapixel phone photo is 8160 wide).
pub const MAX_SIDE: u32 = 10_000;
/// Largest accepted pixel count (64 megapixels: at most 192 MiB of RGB).
pub const MAX_PIXELS: u64 = 64_000_000;

/// Decodes JPEG or PNG bytes to 8-bit RGB with the EXIF orientation applied.
///
/// Accepts 8-bit RGB, RGBA (alpha dropped) and grayscale. Refuses, with a typed error and before allocating pixel
/// memory, anything else: images over [`MAX_SIDE`] or [`MAX_PIXELS`], 16-bit and CMYK images, other formats,
/// truncated or corrupt data.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::InvalidImage("empty input".into()));
    }
    let reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::InvalidImage(e.to_string()))?;
    let format = match reader.format() {
        Some(jpeg @ ImageFormat::Jpeg) => {
            check_jpeg_structure(bytes)?;
            jpeg
        }
        Some(png @ ImageFormat::Png) => png,
        _ => return Err(Error::InvalidImage("neither JPEG nor PNG".into())),
    };
    // The header alone says how large the image is: refuse absurd sizes before any pixel memory is allocated.
    let mut probe = ImageReader::new(Cursor::new(bytes));
    probe.set_format(format);
    probe.no_limits();
    let (width, height) = probe.into_dimensions().map_err(to_error)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(too_large(width, height));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4);
    let mut reader = reader;
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(to_error)?;
    if width == 0 || height == 0 {
        return Err(Error::InvalidImage("zero-sized image".into()));
    }
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
    let mut image = DynamicImage::from_decoder(decoder).map_err(to_error)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
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
        image::ImageError::Limits(_) => Error::InvalidImage("image exceeds the decoder's memory limit".into()),
        image::ImageError::Unsupported(u) => Error::UnsupportedImage(u.to_string()),
        other => Error::InvalidImage(other.to_string()),
    }
}
