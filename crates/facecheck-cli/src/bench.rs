//! `facecheck bench stages`: the time of each check-in stage on photos named on stdin, one JSON line per photo, for
//! `scripts/bench-vs-onnxruntime.sh` (which feeds this process and onnxruntime the same photos in turn, so that the
//! machine's noise falls on both).
//!
//! The first line is `{"load_ms": [...]}`: loading and optimising the whole bundle (`Engine::from_dir`), each of
//! `--loads` times. Then, for each path read from stdin, one line `{"path", "ms": {stage: milliseconds}}` with the
//! stages of a check-in on that photo: `decode`, `detect`, `quality` (the gates, including the crop they measure),
//! `liveness` (both models), `align`, `embed` (the crop and its mirror), `match` (the distance to a template) and
//! `sign` (the attestation, Ed25519); and, apart (`two_threads_ms`), `liveness_align_embed`: the liveness models
//! and the alignment and embedding at the same time on two threads, as a check-in runs them
//! ([`Engine::liveness_and_embedding`]). Every stage runs whatever the gates or the liveness rule decide (this times
//! the work, it does not decide a check-in); a photo without a face gets `{"path", "no_face": true}`. Nothing about
//! the face (no score, no distance) is printed, only times and the gates' verdict (`gates_passed`).

use facecheck::checkin::{model_digest, policy_id, Outcome};
use facecheck::quality::{self, QualityLimits};
use facecheck::{align_face, decode_image, Engine, Error};
use facecheck_attest::{Claims, DeviceKey};
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// Arguments of `facecheck bench stages`.
#[derive(clap::Args)]
pub struct StagesArgs {
    /// How many times to load the models at the start (each time is reported).
    #[arg(long, default_value_t = 3)]
    loads: usize,
}

/// Milliseconds since `start`.
fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Runs `f`, adding its time to `stages` under `name`.
fn timed<T>(stages: &mut Vec<(&'static str, f64)>, name: &'static str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    stages.push((name, ms(start)));
    value
}

pub fn stages(models: &Path, args: &StagesArgs) -> Result<(), String> {
    let mut load_ms = Vec::new();
    let mut engine = None;
    for _ in 0..args.loads.max(1) {
        let start = Instant::now();
        engine = Some(Engine::from_dir(models).map_err(|e| e.to_string())?);
        load_ms.push(ms(start));
    }
    let engine = engine.expect("loaded at least once");
    println!("{}", serde_json::json!({ "load_ms": load_ms }));

    let (key, _) = DeviceKey::generate(&ring::rand::SystemRandom::new())
        .map_err(|_| "the random number generator failed".to_owned())?;
    let mut template = None;
    let stdin = std::io::stdin();
    for (counter, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        let path = line.trim();
        if path.is_empty() {
            continue;
        }
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let mut stages = Vec::new();
        let fail = |e: Error| format!("{path}: {e}");
        let image = timed(&mut stages, "decode", || decode_image(&bytes)).map_err(fail)?;
        let faces = timed(&mut stages, "detect", || engine.detector().detect(&image)).map_err(fail)?;
        let Some((face, gates_passed)) = timed(&mut stages, "quality", || {
            quality::measure(&image, &faces).map(|(face, m)| (face, QualityLimits::SHIPPED.check(&m).is_ok()))
        }) else {
            println!("{}", serde_json::json!({ "path": path, "no_face": true }));
            continue;
        };
        let liveness = timed(&mut stages, "liveness", || engine.liveness().check(&image, face)).map_err(fail)?;
        let aligned = timed(&mut stages, "align", || align_face(&image, face)).ok_or_else(|| fail(Error::NoFace))?;
        let embedding = timed(&mut stages, "embed", || engine.embedder().embed(&aligned)).map_err(fail)?;
        // The template is the first photo's embedding: the comparison costs the same whoever it is.
        let template = template.get_or_insert_with(|| embedding.clone());
        let outcome = timed(&mut stages, "match", || {
            if engine.compare(template, &embedding).is_match {
                Outcome::Match
            } else {
                Outcome::NoMatch
            }
        });
        timed(&mut stages, "sign", || {
            key.sign(&Claims {
                driver: "driver".into(),
                fleet: "fleet".into(),
                block: "block".into(),
                nonce: "nonce".into(),
                issued_at: 1_800_000_000,
                counter: counter as u64 + 1,
                outcome,
                liveness_passed: liveness.is_live,
                liveness_method: facecheck_attest::LivenessMethod::Passive,
                attempts: 1,
                model_manifest: model_digest(),
                policy: policy_id(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
        });
        let start = Instant::now();
        let (liveness, embedding) = engine.liveness_and_embedding(&image, face);
        let two_threads = ms(start);
        liveness.and(embedding).map_err(fail)?;
        let ms: serde_json::Map<String, serde_json::Value> =
            stages.into_iter().map(|(name, t)| (name.to_owned(), t.into())).collect();
        let line = serde_json::json!({
            "path": path, "gates_passed": gates_passed, "ms": ms,
            "two_threads_ms": { "liveness_align_embed": two_threads },
        });
        println!("{line}");
    }
    Ok(())
}
