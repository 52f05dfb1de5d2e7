//! Golden tests: every stage of the tract pipeline against the onnxruntime reference of `scripts/reference.py`,
//! whose outputs `scripts/make_golden.py` stored in `tests/golden/<photo>/`.

use crate::pipeline::align::align_face;
use crate::pipeline::decode::decode_image;
use crate::pipeline::detect::{Face, FaceChoice};
use crate::pipeline::embed::Embedding;
use crate::Engine;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(serde::Deserialize)]
struct GoldenFace {
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
    landmarks: [f32; 10],
}

#[derive(serde::Deserialize)]
struct Golden {
    detections_320: Vec<GoldenFace>,
    detections: Vec<GoldenFace>,
    embedding_of_aligned_png: Vec<f32>,
    embedding: Vec<f32>,
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::from_dir(&crate_dir().join("../../models")).expect("shipped models load"))
}

/// The golden cases: one folder per fixture photo.
fn cases() -> Vec<(String, PathBuf, Golden)> {
    let root = crate_dir().join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/golden exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 5, "expected golden cases in {root:?}");
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().expect("named").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(dir.join("golden.json")).expect("golden.json");
            (name, dir, serde_json::from_str(&text).expect("golden.json parses"))
        })
        .collect()
}

fn fixture(stem: &str) -> Vec<u8> {
    let dir = crate_dir().join("tests/fixtures");
    let path = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .find(|p| p.file_stem().is_some_and(|s| s == stem))
        .unwrap_or_else(|| panic!("no fixture named {stem}"));
    std::fs::read(path).expect("fixture readable")
}

fn png(path: &Path) -> image::RgbImage {
    image::open(path).expect("golden PNG").into_rgb8()
}

fn assert_faces_close(case: &str, got: &[Face], want: &[GoldenFace], tol_px: f32, tol_score: f32) {
    assert_eq!(got.len(), want.len(), "{case}: face count");
    for (g, w) in got.iter().zip(want) {
        assert!((g.score - w.score).abs() <= tol_score, "{case}: score {} vs {}", g.score, w.score);
        let gb = [g.bbox.x1, g.bbox.y1, g.bbox.x2, g.bbox.y2];
        let gl: Vec<f32> = g.landmarks.iter().flat_map(|&(x, y)| [x, y]).collect();
        for (a, b) in gb.iter().chain(&gl).zip(w.bbox.iter().chain(&w.landmarks)) {
            assert!((a - b).abs() <= tol_px, "{case}: coordinate {a} vs {b} (tolerance {tol_px})");
        }
    }
}

fn golden_embedding(values: &[f32]) -> Embedding {
    Embedding(values.try_into().expect("128 values"))
}

#[test]
fn detector_matches_onnxruntime_on_the_same_letterboxed_input() {
    for (case, dir, golden) in cases() {
        let faces = engine().detector().detect(&png(&dir.join("letterbox.png"))).expect("detects");
        // Same input pixels: only float summation order differs between tract and onnxruntime.
        assert_faces_close(&case, &faces, &golden.detections_320, 0.02, 1e-3);
    }
}

#[test]
fn alignment_matches_the_reference_crop() {
    for (case, dir, golden) in cases() {
        let letterbox = png(&dir.join("letterbox.png"));
        let chosen = golden.detections_320.iter().max_by(|a, b| {
            let area = |f: &GoldenFace| (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]);
            area(a).total_cmp(&area(b))
        });
        let Some(g) = chosen else { continue };
        let face = Face {
            score: g.score,
            bbox: crate::BoundingBox { x1: g.bbox[0], y1: g.bbox[1], x2: g.bbox[2], y2: g.bbox[3] },
            landmarks: std::array::from_fn(|j| (g.landmarks[2 * j], g.landmarks[2 * j + 1])),
        };
        let crop = align_face(&letterbox, &face).expect("aligns");
        let want = png(&dir.join("aligned.png"));
        let diffs: Vec<i32> =
            crop.as_raw().iter().zip(want.as_raw()).map(|(a, b)| (*a as i32 - *b as i32).abs()).collect();
        let max = diffs.iter().max().copied().unwrap_or(0);
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        // f32 here, f64 in the reference: a sample on a rounding boundary may land one level apart.
        assert!(max <= 1 && mean < 0.05, "{case}: aligned crop differs (max {max}, mean {mean})");
    }
}

#[test]
fn embedder_matches_onnxruntime_on_the_same_aligned_crop() {
    for (case, dir, golden) in cases() {
        if !dir.join("aligned.png").exists() {
            continue;
        }
        let got = engine().embedder.embed(&png(&dir.join("aligned.png"))).expect("embeds");
        let want = golden_embedding(&golden.embedding_of_aligned_png);
        let max = got.0.iter().zip(&want.0).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max < 1e-4, "{case}: embedding differs by {max}");
    }
}

#[test]
fn whole_pipeline_matches_the_reference_from_the_original_file() {
    for (case, _dir, golden) in cases() {
        let image = decode_image(&fixture(&case)).expect("decodes");
        let faces = engine().detector().detect(&image).expect("detects");
        // Different JPEG decoders (zune-jpeg here, libjpeg-turbo in Pillow) differ by a level or two per pixel.
        let tol = 0.01 * image.width().max(image.height()) as f32;
        assert_faces_close(&case, &faces, &golden.detections, tol.max(1.5), 0.02);
        let Some(face) = FaceChoice::Largest.pick(&faces, image.width(), image.height()) else { continue };
        let got = engine().embed_face(&image, face).expect("embeds");
        let cosine: f32 = got.0.iter().zip(&golden.embedding).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.995, "{case}: end-to-end embedding cosine {cosine}");
    }
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
}
