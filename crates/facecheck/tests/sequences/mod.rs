//! What the tests of the active check share: the shipped engine, the fixture photos, and head-turn frames made
//! from them (each photo reframed around its face so that a sequence of different photos keeps the face in one
//! place, as a phone's preview would).
#![allow(dead_code)] // each test binary uses a different subset

use facecheck::{Engine, FaceChoice};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The core crate's folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped models, loaded once per test binary.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::from_dir(&root().join("../../models")).expect("shipped models load"))
}

/// The path of a fixture photo (`tests/fixtures`).
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// `image` as PNG bytes.
pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).expect("encodes");
    out
}

/// The photo at `path` reframed around its largest face: a square three face-widths wide centred on the face
/// (grey where it goes past the photo's edges), resized to 400x400, as PNG.
pub fn framed(path: &Path) -> Vec<u8> {
    let image = facecheck::decode_image(&std::fs::read(path).expect("photo")).expect("decodes");
    let faces = engine().detector().detect(&image).expect("detects");
    let face = FaceChoice::Largest.pick(&faces, image.width(), image.height()).expect("a face");
    let (cx, cy) = face.bbox.centre();
    let side = 3.0 * face.bbox.width().max(face.bbox.height());
    let mut canvas = RgbImage::from_pixel(side as u32, side as u32, image::Rgb([128, 128, 128]));
    image::imageops::replace(&mut canvas, &image, (side / 2.0 - cx) as i64, (side / 2.0 - cy) as i64);
    png(&image::imageops::resize(&canvas, 400, 400, image::imageops::FilterType::Triangle))
}

/// The picture mirrored left to right (a face turned to its left becomes one turned to its right).
pub fn mirrored(bytes: &[u8]) -> Vec<u8> {
    png(&image::imageops::flip_horizontal(&facecheck::decode_image(bytes).expect("decodes")))
}

/// Obama frontal, turned to his left, turned to his right.
pub fn obama() -> [Vec<u8>; 3] {
    let left = framed(&fixture("obama1.jpg"));
    let right = mirrored(&left);
    [framed(&fixture("obama.jpg")), left, right]
}
