//! Decoding untrusted JPEG/PNG bytes into upright 8-bit RGB.

use crate::{Error, Result};
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageReader, RgbImage};
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
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::InvalidImage(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Jpeg | image::ImageFormat::Png) => {}
        _ => return Err(Error::InvalidImage("neither JPEG nor PNG".into())),
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4);
    let mut reader = reader;
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(to_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::InvalidImage("zero-sized image".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(too_large(width, height));
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
