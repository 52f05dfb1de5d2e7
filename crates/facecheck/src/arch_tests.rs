//! Cross-architecture tests (issue 5, ARM64): on aarch64 (`scripts/test-bionic.sh` runs the suite on Android's bionic under
//! `qemu-aarch64`) the core must give the embeddings and decisions it gives on x86_64, with tract's SIMD matrix
//! kernels for the CPU it runs on.
//!
//! `tests/arch_reference.json` holds the x86_64 results. After a deliberate change of the models, the manifest
//! threshold or the pipeline, regenerate it on an x86_64 machine with
//! `cargo test --release -p facecheck --lib arch_tests::write_x86_64_reference -- --ignored --exact`.

use crate::golden_tests::engine;
use crate::pipeline::align::ALIGNED_SIDE;
use crate::pipeline::detect::{FaceChoice, DETECTOR_SIDE};
use crate::pipeline::liveness::LIVENESS_SIDE;
use crate::pipeline::model::{load_plan, Manifest, ModelEntry, Plan};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;
use tract_onnx::tract_core::tract_linalg::isa::{self, Arch, Isa, IsaSet};

/// The committed face photos whose embeddings are compared across architectures.
const PHOTOS: [&str; 10] =
    ["obama", "obama1", "obama2", "biden", "biden2", "gray", "exif_orientation6", "image_F1", "image_F2", "image_T1"];

/// The pairs whose distance and decision are compared: every pair of the five portraits of two people.
const PEOPLE: [&str; 5] = ["obama", "obama1", "obama2", "biden", "biden2"];

/// Largest difference allowed between an embedding component here and on x86_64.
const EMBEDDING_TOLERANCE: f32 = 1e-4;

/// Largest difference allowed between a distance here and on x86_64.
const DISTANCE_TOLERANCE: f32 = 1e-4;

/// What a failure on x86_64 itself means.
const REGENERATE: &str = "if the pipeline or models changed on purpose, regenerate tests/arch_reference.json on x86_64";

#[derive(serde::Serialize, serde::Deserialize)]
struct Reference {
    /// How the file was made.
    generated_by: String,
    /// The manifest threshold the decisions were taken with.
    threshold: f32,
    /// Unit embedding of the Largest face of each photo.
    embeddings: BTreeMap<String, Vec<f32>>,
    /// Every pair of [`PEOPLE`].
    comparisons: Vec<Compared>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Compared {
    a: String,
    b: String,
    distance: f32,
    is_match: bool,
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference_path() -> PathBuf {
    crate_dir().join("tests/arch_reference.json")
}

/// What this build computes for [`PHOTOS`] and the pairs of [`PEOPLE`], once per test run (slow under qemu).
fn computed() -> &'static Reference {
    static COMPUTED: OnceLock<Reference> = OnceLock::new();
    COMPUTED.get_or_init(compute)
}

fn compute() -> Reference {
    let embeddings: BTreeMap<String, Vec<f32>> = PHOTOS
        .iter()
        .map(|&stem| {
            let bytes = std::fs::read(crate_dir().join(format!("tests/fixtures/{stem}.jpg"))).expect("fixture");
            let embedding = engine().embed_image(&bytes, FaceChoice::Largest).expect("a face is found and embedded");
            (stem.to_string(), embedding.0.to_vec())
        })
        .collect();
    let mut comparisons = Vec::new();
    for (i, a) in PEOPLE.iter().enumerate() {
        for b in &PEOPLE[i + 1..] {
            let comparison = engine().compare(&embedding_of(&embeddings[*a]), &embedding_of(&embeddings[*b]));
            comparisons.push(Compared {
                a: a.to_string(),
                b: b.to_string(),
                distance: comparison.distance,
                is_match: comparison.is_match,
            });
        }
    }
    Reference {
        generated_by: "x86_64: cargo test --release -p facecheck --lib arch_tests::write_x86_64_reference -- \
                       --ignored --exact"
            .into(),
        threshold: engine().threshold(),
        embeddings,
        comparisons,
    }
}

fn embedding_of(values: &[f32]) -> crate::Embedding {
    crate::Embedding(values.try_into().expect("128 values"))
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(reference_path()).expect("tests/arch_reference.json");
    serde_json::from_str(&text).expect("tests/arch_reference.json parses")
}

#[cfg(target_arch = "x86_64")]
#[test]
#[ignore = "writes tests/arch_reference.json on x86_64; see the module documentation"]
fn write_x86_64_reference() {
    let text = serde_json::to_string_pretty(computed()).expect("serialises");
    std::fs::write(reference_path(), text + "\n").expect("writes tests/arch_reference.json");
}

#[test]
fn embeddings_agree_with_the_x86_64_reference() {
    let want = reference();
    let got = computed();
    assert_eq!(want.embeddings.keys().collect::<Vec<_>>(), got.embeddings.keys().collect::<Vec<_>>());
    for (photo, want) in &want.embeddings {
        let max = got.embeddings[photo].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        println!("{photo}: largest embedding difference to x86_64 {max:e}");
        assert!(max < EMBEDDING_TOLERANCE, "{photo}: embedding differs from x86_64's by {max} ({REGENERATE})");
    }
}

#[test]
fn distances_and_decisions_are_those_of_x86_64() {
    let want = reference();
    let got = computed();
    assert_eq!(got.threshold, want.threshold, "the manifest threshold changed: {REGENERATE}");
    assert_eq!(got.comparisons.len(), want.comparisons.len());
    for (g, w) in got.comparisons.iter().zip(&want.comparisons) {
        assert_eq!((&g.a, &g.b), (&w.a, &w.b));
        let pair = format!("{} vs {}", g.a, g.b);
        let delta = (g.distance - w.distance).abs();
        println!("{pair}: distance {} (x86_64 {}), match {}", g.distance, w.distance, g.is_match);
        assert!(delta < DISTANCE_TOLERANCE, "{pair}: distance {} vs x86_64 {}", g.distance, w.distance);
        assert_eq!(g.is_match, w.is_match, "{pair}: decision differs from x86_64's");
    }
    // The fixture pairs are not all on one side of the threshold, so identical decisions say something.
    let same_person = |c: &Compared| c.a[..5] == c.b[..5];
    assert!(want.comparisons.iter().all(|c| c.is_match == same_person(c)), "the reference decisions are wrong");
}

/// The four plans of the shipped models, optimised as the engine optimises them.
fn plans() -> Vec<(&'static str, Plan)> {
    let models = &Manifest::shipped().models;
    let load = |name: &'static str, entry: &ModelEntry, side: u32| {
        let bytes = std::fs::read(crate_dir().join("../../models").join(&entry.file)).expect("shipped model");
        (name, load_plan(name, entry, &bytes, side as usize).expect("model loads"))
    };
    vec![
        load("detector", &models.detector.model, DETECTOR_SIDE),
        load("embedder", &models.embedder.model, ALIGNED_SIDE),
        load("liveness_v2", &models.liveness_v2.model, LIVENESS_SIDE),
        load("liveness_v1se", &models.liveness_v1se.model, LIVENESS_SIDE),
    ]
}

/// The names of the matrix-multiplication kernels the plan runs for its matmul and convolution nodes. An
/// `OptMatMul` may hold a matrix-vector and a matrix-matrix kernel and pick one by the width `n` of its output;
/// the shapes are fixed here, so the one it runs is known.
fn matmul_kernels(plan: &Plan) -> Vec<String> {
    let mut names: Vec<String> = plan
        .model()
        .nodes()
        .iter()
        .filter_map(|node| node.op_as::<OptMatMul>())
        .map(|op| {
            let n = op.c_n_axis.map_or(Ok(1), |axis| op.c_fact.shape[axis].to_usize()).expect("a fixed output width");
            let mode = op.mode_picker.pick(n).expect("a kernel for this width");
            op.mmm[mode].name().to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The kernel families (name prefixes) tract should choose from for f32 matrices on a CPU with `isa`.
fn expected_families(isa: IsaSet) -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        // The avx512 tier mixes in 256-bit FMA kernels for the tiles it has no width for.
        if isa.has(Isa::X86_64Avx512f) && isa.has(Isa::X86_64Fma) {
            &["avx512_", "fma_"]
        } else if isa.has(Isa::X86_64Fma) && isa.has(Isa::X86_64Avx2) {
            &["fma_"]
        } else {
            &["avx_"]
        }
    } else if cfg!(target_arch = "aarch64") {
        // SVE2 outranks plain NEON in tract's aarch64 ladder when the CPU has it (qemu's `max` does).
        if isa.has(Isa::Aarch64Sve2) {
            &["sve_"]
        } else {
            &["arm64simd_"]
        }
    } else {
        &["generic_"]
    }
}

/// `FACECHECK_EXPECT_CPU` names the CPU `scripts/test-bionic.sh` asked qemu for, so that a CPU choice that did
/// not take effect fails here instead of testing the same kernels twice.
fn check_expected_cpu(isa: IsaSet) {
    let Ok(cpu) = std::env::var("FACECHECK_EXPECT_CPU") else { return };
    assert_eq!(isa.arch(), Some(Arch::Aarch64), "FACECHECK_EXPECT_CPU={cpu} names a CPU of qemu-aarch64");
    match cpu.as_str() {
        "cortex-a53" => {
            for feature in [Isa::Aarch64DotProd, Isa::Aarch64Fp16, Isa::Aarch64Sve2, Isa::Aarch64Sme] {
                assert!(!isa.has(feature), "a Cortex-A53 has no {feature}, yet tract sees {isa:?}");
            }
        }
        "max" => {
            assert!(isa.has(Isa::Aarch64DotProd), "qemu's max CPU has the dot product, yet tract sees {isa:?}");
        }
        other => panic!("FACECHECK_EXPECT_CPU={other} is not a CPU this test knows"),
    }
}

#[test]
fn matmul_kernels_are_the_simd_ones_of_this_cpu() {
    let isa = isa::native();
    check_expected_cpu(isa);
    let families = expected_families(isa);
    for (model, plan) in plans() {
        let kernels = matmul_kernels(&plan);
        println!("{model}: {kernels:?} (tract sees {isa:?})");
        assert!(!kernels.is_empty(), "{model}: no optimised matmul in the plan");
        for kernel in &kernels {
            assert!(
                families.iter().any(|family| kernel.starts_with(family)),
                "{model}: kernel {kernel} is not of {families:?}, the families for {isa:?}"
            );
            // The models are f32 (int8 weights are dequantised at load): no integer dot-product kernel, and none
            // at all where the CPU lacks the instruction.
            assert!(!kernel.contains("dot"), "{model}: integer dot-product kernel {kernel} in an f32 plan");
        }
    }
}
