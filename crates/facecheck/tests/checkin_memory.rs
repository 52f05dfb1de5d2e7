//! The memory one check-in takes with [`MAX_FRAMES`] frames at the decoder's limits (issue 13: eight 249 KB PNGs
//! took 537 MB). Linux only: the peak resident set (`VmHWM`) is reset just before the check-in
//! (`/proc/self/clear_refs`) and read just after it; this file holds one test, so nothing else runs in the process
//! meanwhile. `cargo test --release -p facecheck --test checkin_memory -- --nocapture` prints the numbers.
//!
//! The frames are the costliest the decoder accepts: 4000x4000 pixels (16 megapixels), padded to
//! [`MAX_ENCODED_BYTES`] (the bytes after the end of an image are ignored, but held and, by the JPEG decoder,
//! copied). The first is an RGBA PNG with a face the gates pass, so the check-in keeps its picture while it decodes
//! the others; the seven others are progressive JPEGs with three full-resolution components
//! (`progressive_444.jpg`, a plain grey picture), whose decoding holds the most: the picture and all its
//! coefficients.
//!
//! The bound: what the frames and the check-in add to the resident set of the loaded models is at most the frames'
//! bytes and [`MAX_WORKING_SET_MIB`]; by design, the picture kept (48 MB), and one decode (a copy of the bytes,
//! 96 MB of coefficients, the 48 MB picture).

#![cfg(target_os = "linux")]

use facecheck::checkin::{self, Challenge, MAX_FRAMES};
use facecheck::decode::{MAX_ENCODED_BYTES, MAX_PIXELS};
use facecheck::vault::KEK_LEN;
use facecheck::{decode_image, Clock, Engine, Kek};
use image::{DynamicImage, Rgb, RgbImage};
use std::path::Path;

const T0: u64 = 1_750_000_000;
/// What the check-in may add to the models and the frames' bytes, in MiB (see the module doc).
const MAX_WORKING_SET_MIB: u64 = 256;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().expect("a number of kB")
}

/// obama.jpg enlarged three times on a grey 4000x4000 canvas, as an RGBA PNG.
fn face_frame() -> Vec<u8> {
    let face = decode_image(&fixture("obama.jpg")).expect("decodes");
    let (w, h) = (face.width() * 3, face.height() * 3);
    let big = image::imageops::resize(&face, w, h, image::imageops::FilterType::Triangle);
    let mut canvas = RgbImage::from_pixel(4000, 4000, Rgb([128, 128, 128]));
    image::imageops::overlay(&mut canvas, &big, i64::from((4000 - w) / 2), i64::from((4000 - h) / 2));
    let mut png = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(canvas).to_rgba8().write_to(&mut png, image::ImageFormat::Png).expect("encodes");
    png.into_inner()
}

#[test]
fn checkin_with_eight_frames_at_the_limits_stays_bounded() {
    let engine = Engine::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")).expect("the models");
    let models_kib = status_kib("VmRSS:");
    let dir = tempfile_dir();
    let kek = Kek::from_bytes(&[7; KEK_LEN]);
    let selfies = ["obama.jpg", "obama1.jpg", "obama2.jpg"].map(fixture);
    let path = dir.join("driver.vault");
    let mut vault =
        checkin::enroll(&engine, &path, &kek, "d", "f", &selfies, Clock::wall_only(T0)).expect("enrolls").vault;

    let mut frames = vec![face_frame()];
    frames.resize(MAX_FRAMES, fixture("progressive_444.jpg"));
    for frame in &mut frames {
        let image = decode_image(frame).expect("every frame decodes");
        assert_eq!(u64::from(image.width()) * u64::from(image.height()), MAX_PIXELS, "a frame at the limit");
        frame.resize(MAX_ENCODED_BYTES, 0);
    }
    let frames_mib = (frames.iter().map(Vec::len).sum::<usize>() >> 20) as u64;

    let before_kib = status_kib("VmRSS:");
    std::fs::write("/proc/self/clear_refs", "5").expect("resets the peak resident set");
    let result = checkin::check_in(
        &engine,
        &mut vault,
        &Challenge { nonce: "n", block: "b" },
        &frames,
        Clock::wall_only(T0 + 60),
    );
    let peak_kib = status_kib("VmHWM:");
    assert_eq!(result.expect("checks in").outcome, checkin::Outcome::Match, "the face frame was kept and judged");
    println!(
        "resident set: {} MiB with the models loaded, {} MiB before the check-in ({} frames, {frames_mib} MiB), \
         peak {} MiB during it",
        models_kib >> 10,
        before_kib >> 10,
        frames.len(),
        peak_kib >> 10,
    );
    let added_mib = peak_kib.saturating_sub(models_kib) >> 10;
    let bound = frames_mib + MAX_WORKING_SET_MIB;
    assert!(added_mib <= bound, "the frames and the check-in added {added_mib} MiB to the models (bound {bound})");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh folder under the system's temporary folder.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("facecheck-checkin-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates the folder");
    dir
}
