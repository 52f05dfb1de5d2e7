//! Per-stage latency of the verification pipeline on one photo.
//!
//! `cargo bench -p facecheck-benches` uses `crates/facecheck/tests/fixtures/obama.jpg`; set `FACECHECK_BENCH_IMAGE`
//! to measure another photo (for example one from `../shared/data`).

use criterion::{criterion_group, criterion_main, Criterion};
use facecheck::{align_face, decode_image, Engine, FaceChoice};
use std::hint::black_box;
use std::path::PathBuf;

fn pipeline(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let image_path = std::env::var_os("FACECHECK_BENCH_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("crates/facecheck/tests/fixtures/obama.jpg"));
    let bytes = std::fs::read(&image_path).expect("benchmark image is readable");
    let models = root.join("models");

    c.bench_function("load_models", |b| b.iter(|| Engine::from_dir(&models).expect("models load")));
    let engine = Engine::from_dir(&models).expect("models load");
    let image = decode_image(&bytes).expect("decodes");
    let faces = engine.detector().detect(&image).expect("detects");
    let face = FaceChoice::Largest.pick(&faces, image.width(), image.height()).expect("a face").clone();

    c.bench_function("decode", |b| b.iter(|| decode_image(black_box(&bytes)).expect("decodes")));
    c.bench_function("detect", |b| b.iter(|| engine.detector().detect(black_box(&image)).expect("detects")));
    c.bench_function("align", |b| b.iter(|| align_face(black_box(&image), &face).expect("aligns")));
    c.bench_function("align_and_embed_with_flip", |b| {
        b.iter(|| engine.embed_face(black_box(&image), &face).expect("embeds"))
    });
    c.bench_function("whole_pipeline", |b| {
        b.iter(|| engine.embed_image(black_box(&bytes), FaceChoice::Largest).expect("embeds"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = pipeline
}
criterion_main!(benches);
