//! The guest program of `scripts/armcount.sh`: loads the models and runs the stages of a check-in on one photo,
//! marking each phase for the instruction counter (`../shared/tools/armcount`, a qemu plugin).
//!
//! `armcount MODELS_DIR PHOTO [ITERATIONS]`. A marker is the unassigned arm64 syscall 4095 with the phase id in x0:
//! it returns -ENOSYS under qemu and on a real phone, so the program runs anywhere; elsewhere than on aarch64 the
//! markers are no-ops (the example also builds on the host). The ids, each marked at the end of its phase:
//! 1 = the model files read, 2 = the models loaded and optimised (`Engine::from_bytes_on_one_thread`: the same work
//! as `Engine::from_bytes`, on the one thread the counter counts exactly), then for iteration `k` (from 0)
//! `10 + 10 k + s` at the end of stage `s` of [`STAGES`]; then two parts of stages, measured again on their own after
//! the check-ins (not part of them): 90 = the detector's letterbox (`detect:letterbox`), 91 = both liveness context
//! crops (`liveness:crops`). Prints each phase's name and id on stdout before it starts.

use facecheck::checkin::{model_digest, policy_id, Outcome};
use facecheck::liveness::{context_crop, context_region};
use facecheck::quality::{self, QualityLimits};
use facecheck::resample::{sample_affine, Affine};
use facecheck::{align_face, decode_image, Engine, Manifest, ModelBytes};
use facecheck_attest::{Claims, DeviceKey};
use std::hint::black_box;
use std::path::Path;

/// The stages of a check-in, in order (`facecheck bench stages` times the same ones).
const STAGES: [&str; 8] = ["decode", "detect", "quality", "liveness", "align", "embed", "match", "sign"];

#[inline(never)]
fn marker(id: u64) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: syscall 4095 is unassigned on arm64 Linux and Android: the kernel (or qemu) returns -ENOSYS in x0 and
    // touches no memory; x8 and x0 are declared, nothing else is clobbered.
    unsafe {
        core::arch::asm!("svc #0", in("x8") 4095u64, inout("x0") id => _, options(nostack));
    }
    #[cfg(not(target_arch = "aarch64"))]
    black_box(id);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: armcount MODELS_DIR PHOTO [ITERATIONS]");
        std::process::exit(2);
    }
    let dir = Path::new(&args[1]);
    let iterations: u64 = args.get(3).map_or(1, |n| n.parse().expect("ITERATIONS is a number"));
    let manifest = Manifest::shipped();
    let read = |file: &str| std::fs::read(dir.join(file)).expect("model file is readable");
    let detector = read(&manifest.models.detector.model.file);
    let embedder = read(&manifest.models.embedder.model.file);
    let liveness_v2 = read(&manifest.models.liveness_v2.model.file);
    let liveness_v1se = read(&manifest.models.liveness_v1se.model.file);
    let photo = std::fs::read(&args[2]).expect("photo is readable");
    let (key, _) = DeviceKey::generate(&ring::rand::SystemRandom::new()).expect("random key");
    println!("phase load 2");
    for k in 0..iterations {
        for (s, stage) in STAGES.iter().enumerate() {
            println!("phase {stage} {} iteration {k}", 10 + 10 * k + s as u64);
        }
    }
    println!("phase detect:letterbox 90");
    println!("phase liveness:crops 91");
    marker(1);
    let engine = Engine::from_bytes_on_one_thread(ModelBytes {
        detector: &detector,
        embedder: &embedder,
        liveness_v2: &liveness_v2,
        liveness_v1se: &liveness_v1se,
    })
    .expect("models load");
    marker(2);

    for k in 0..iterations {
        let id = |stage: u64| 10 + 10 * k + stage;
        let image = decode_image(&photo).expect("photo decodes");
        marker(id(0));
        let faces = engine.detector().detect(&image).expect("detects");
        marker(id(1));
        let (face, measures) = quality::measure(&image, &faces).expect("a face");
        black_box(QualityLimits::SHIPPED.check(&measures).is_ok());
        marker(id(2));
        let liveness = engine.liveness().check(&image, face).expect("liveness runs");
        marker(id(3));
        let aligned = align_face(&image, face).expect("aligns");
        marker(id(4));
        let embedding = engine.embedder().embed(&aligned).expect("embeds");
        marker(id(5));
        let outcome = if engine.compare(&embedding, &embedding).is_match { Outcome::Match } else { Outcome::NoMatch };
        marker(id(6));
        let token = key.sign(&Claims {
            driver: "driver".into(),
            fleet: "fleet".into(),
            block: "block".into(),
            nonce: "nonce".into(),
            issued_at: 1_800_000_000,
            counter: k + 1,
            outcome,
            liveness_passed: liveness.is_live,
            liveness_method: facecheck_attest::LivenessMethod::Passive,
            attempts: 1,
            model_manifest: model_digest(),
            policy: policy_id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        });
        black_box(token);
        marker(id(7));
    }

    let image = decode_image(&photo).expect("photo decodes");
    let faces = engine.detector().detect(&image).expect("detects");
    let face = quality::measure(&image, &faces).expect("a face").0;
    marker(89);
    // As `Detector::detect` letterboxes (pipeline/detect.rs).
    let inv = 1.0 / (320.0 / image.width() as f32).min(320.0 / image.height() as f32);
    black_box(sample_affine(&image, &Affine([inv, 0.0, 0.0, 0.0, inv, 0.0]), 320, 320));
    marker(90);
    for entry in [&manifest.models.liveness_v2, &manifest.models.liveness_v1se] {
        let region = context_region(image.width(), image.height(), &face.bbox, entry.crop_scale).expect("region");
        black_box(context_crop(&image, &region));
    }
    marker(91);
}
