//! Untrusted image bytes: every bad input is a typed error, never a panic; good ones decode upright.

use facecheck::decode::{MAX_DECODER_SCRATCH, MAX_ENCODED_BYTES, MAX_PIXELS, MAX_SIDE};
use facecheck::{decode_image, Error};
use image::RgbImage;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
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

#[test]
fn over_4096_a_side_or_16_megapixels_is_refused_before_allocation() {
    for (name, width, height) in [("too_wide.png", 4097, 16), ("too_many_pixels.png", 4000, 4001)] {
        let result = decode_image(&fixture(name));
        let refused = matches!(result, Err(Error::ImageTooLarge { width: w, height: h, max_side: 4096, max_pixels: 16_000_000 }) if (w, h) == (width, height));
        assert!(refused, "{name}: {:?}", result.err());
    }
}

#[test]
fn images_at_the_limits_decode() {
    assert_eq!((MAX_SIDE, MAX_PIXELS), (4096, 16_000_000));
    for (width, height) in [(MAX_SIDE, 64), (4000, 4000)] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        RgbImage::new(width, height).write_to(&mut bytes, image::ImageFormat::Png).expect("encodes");
        let (image, largest) = largest_allocation(|| decode_image(bytes.get_ref()));
        assert_eq!(image.expect("an image at the limits decodes").dimensions(), (width, height));
        let rgb = 3 * width as usize * height as usize;
        assert!(largest <= rgb, "largest allocation {largest} bytes, the picture {rgb}");
    }
}

#[test]
fn more_than_16_mib_of_bytes_is_refused() {
    // A JPEG followed by padding after its end-of-image marker still decodes, up to the byte limit.
    let mut bytes = fixture("obama1.jpg");
    bytes.resize(MAX_ENCODED_BYTES, 0);
    assert!(decode_image(&bytes).is_ok(), "{MAX_ENCODED_BYTES} bytes are accepted");
    bytes.push(0);
    let result = decode_image(&bytes);
    assert!(matches!(&result, Err(Error::InvalidImage(m)) if m.contains("more than 16777216")), "{:?}", result.err());
}

/// A 16 KiB chunk that inflates to a 16 MiB colour profile: the decoder used to inflate it all. It stops at its
/// scratch limit now, and the picture decodes without the profile (which it never uses).
#[test]
fn a_profile_that_inflates_past_the_scratch_limit_is_cut_off() {
    let (result, largest) = largest_allocation(|| decode_image(&fixture("iccp_bomb.png")));
    assert_eq!(result.expect("the picture decodes").dimensions(), (16, 16));
    let bound = MAX_DECODER_SCRATCH as usize * 3 / 2; // the limit, and what a growing buffer overshoots by
    assert!(largest < bound, "largest allocation {largest} bytes (bound {bound})");
}

/// The largest single allocation `f` makes on this thread, through the allocator below.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting the largest allocation of each thread (tests run in parallel threads).
struct Tracking;

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;
