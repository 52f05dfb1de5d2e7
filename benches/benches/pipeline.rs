//! Latency of a check-in and of each of its stages, on one photo.
//!
//! `cargo bench --workspace --bench pipeline` (the workspace's features: tract is not compiled again) uses `crates/facecheck/tests/fixtures/obama.jpg` as the check-in selfie (the
//! vault is enrolled from `obama1.jpg`, `obama2.jpg` and `exif_orientation6.jpg`); set `FACECHECK_BENCH_IMAGE` to
//! measure another photo (for example one from `../shared/data`). The stages are those of `facecheck bench stages`
//! and `scripts/armcount.sh`: decode, detect, quality, liveness, align, embed (the crop and its mirror), match and
//! sign; `check_in` is the whole `checkin::check_in` on a vault in a temporary folder (including the vault's
//! durable write of its counter; the vault is enrolled with the default photo's person, so with another person's
//! photo `check_in` measures failures and then a locked vault), `load_models` the whole bundle loaded and optimised.

use criterion::{criterion_group, criterion_main, Criterion};
use facecheck::checkin::{self, model_digest, policy_id, Challenge, Outcome};
use facecheck::quality::{self, QualityLimits};
use facecheck::{align_face, decode_image, Clock, Engine, FaceChoice, Kek};
use facecheck_attest::{Claims, DeviceKey};
use std::hint::black_box;
use std::path::PathBuf;

fn pipeline(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = root.join("crates/facecheck/tests/fixtures");
    let image_path =
        std::env::var_os("FACECHECK_BENCH_IMAGE").map(PathBuf::from).unwrap_or_else(|| fixtures.join("obama.jpg"));
    let bytes = std::fs::read(&image_path).expect("benchmark image is readable");
    let models = root.join("models");

    c.bench_function("load_models", |b| b.iter(|| Engine::from_dir(&models).expect("models load")));
    let engine = Engine::from_dir(&models).expect("models load");
    let image = decode_image(&bytes).expect("decodes");
    let faces = engine.detector().detect(&image).expect("detects");
    let face = FaceChoice::Largest.pick(&faces, image.width(), image.height()).expect("a face").clone();
    let aligned = align_face(&image, &face).expect("aligns");
    let embedding = engine.embedder().embed(&aligned).expect("embeds");
    let (key, _) = DeviceKey::generate(&ring::rand::SystemRandom::new()).expect("random key");
    let claims = Claims {
        driver: "driver".into(),
        fleet: "fleet".into(),
        block: "block".into(),
        nonce: "nonce".into(),
        issued_at: 1_800_000_000,
        counter: 1,
        outcome: Outcome::Match,
        liveness_passed: true,
        liveness_method: facecheck_attest::LivenessMethod::Passive,
        attempts: 1,
        model_manifest: model_digest(),
        policy: policy_id(),
        version: "0.1.0".into(),
    };

    c.bench_function("decode", |b| b.iter(|| decode_image(black_box(&bytes)).expect("decodes")));
    c.bench_function("detect", |b| b.iter(|| engine.detector().detect(black_box(&image)).expect("detects")));
    c.bench_function("quality", |b| {
        b.iter(|| quality::measure(black_box(&image), &faces).map(|(_, m)| QualityLimits::SHIPPED.check(&m)))
    });
    c.bench_function("liveness", |b| {
        b.iter(|| engine.liveness().check(black_box(&image), &face).expect("liveness runs"))
    });
    c.bench_function("align", |b| b.iter(|| align_face(black_box(&image), &face).expect("aligns")));
    c.bench_function("embed_with_flip", |b| b.iter(|| engine.embedder().embed(black_box(&aligned)).expect("embeds")));
    c.bench_function("align_and_embed_with_flip", |b| {
        b.iter(|| engine.embed_face(black_box(&image), &face).expect("embeds"))
    });
    c.bench_function("match", |b| b.iter(|| engine.compare(black_box(&embedding), &embedding)));
    c.bench_function("sign", |b| b.iter(|| key.sign(black_box(&claims))));
    c.bench_function("whole_pipeline", |b| {
        b.iter(|| engine.embed_image(black_box(&bytes), FaceChoice::Largest).expect("embeds"))
    });

    // The whole check-in on an enrolled vault: every iteration a match, so the vault never locks.
    let dir = std::env::temp_dir().join(format!("facecheck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let vault_path = dir.join("driver.vault");
    let kek = Kek::generate().expect("random key");
    let now = Clock::new(1_800_000_000, Some(1_000));
    let selfies: Vec<Vec<u8>> = ["obama1.jpg", "obama2.jpg", "exif_orientation6.jpg"]
        .iter()
        .map(|name| std::fs::read(fixtures.join(name)).expect("fixture is readable"))
        .collect();
    let mut vault =
        checkin::enroll(&engine, &vault_path, &kek, "driver", "fleet", &selfies, now).expect("enrolls").vault;
    let frames = [bytes.as_slice()];
    let challenge = Challenge { nonce: "nonce", block: "block" };
    c.bench_function("check_in", |b| {
        b.iter(|| checkin::check_in(&engine, &mut vault, &challenge, black_box(&frames), now).expect("checks in"))
    });
    drop(vault);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = pipeline
}
criterion_main!(benches);
