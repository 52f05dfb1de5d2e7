//! The engine on real photos: decisions with the shipped models and threshold, and model integrity checks.

use facecheck::{Detector, Embedder, Engine, Error, FaceChoice, Manifest};
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::from_dir(&root().join("../../models")).expect("shipped models load"))
}

fn embed(name: &str) -> facecheck::Embedding {
    let bytes = std::fs::read(root().join("tests/fixtures").join(name)).expect("fixture");
    engine().embed_image(&bytes, FaceChoice::Largest).expect("a face is found and embedded")
}

#[test]
fn same_person_matches_and_different_people_do_not() {
    let obama = embed("obama.jpg");
    for same in ["obama1.jpg", "obama2.jpg", "exif_orientation6.jpg"] {
        let c = engine().compare(&obama, &embed(same));
        assert!(c.is_match, "obama.jpg vs {same}: distance {} threshold {}", c.distance, c.threshold);
    }
    assert!(engine().compare(&embed("biden.jpg"), &embed("biden2.jpg")).is_match, "biden vs biden2");
    for (a, b) in [("obama.jpg", "biden.jpg"), ("obama1.jpg", "biden2.jpg"), ("obama2.jpg", "biden.jpg")] {
        let c = engine().compare(&embed(a), &embed(b));
        assert!(!c.is_match, "{a} vs {b}: distance {} threshold {}", c.distance, c.threshold);
    }
}

#[test]
fn the_threshold_is_the_manifests() {
    assert_eq!(engine().threshold(), Manifest::shipped().models.embedder.match_threshold.distance);
}

#[test]
fn a_photo_without_a_face_is_no_face() {
    // A flat grey PNG: decodes fine, holds no face.
    let mut png = Vec::new();
    image::RgbImage::from_pixel(200, 200, image::Rgb([128, 128, 128]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encodes");
    assert!(matches!(engine().embed_image(&png, FaceChoice::Largest), Err(Error::NoFace)));
}

#[test]
fn model_bytes_that_differ_from_the_manifest_are_refused() {
    let manifest = Manifest::shipped();
    let detector =
        std::fs::read(root().join("../../models").join(&manifest.models.detector.model.file)).expect("model");
    let mut tampered = detector.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        Detector::from_bytes(&manifest.models.detector, &tampered),
        Err(Error::ModelDigestMismatch { name: "detector", .. })
    ));
    // The detector's bytes are not the embedder's.
    assert!(matches!(
        Embedder::from_bytes(&manifest.models.embedder, &detector),
        Err(Error::ModelDigestMismatch { name: "embedder", .. })
    ));
}

#[test]
fn a_missing_model_folder_is_a_clear_error() {
    let result = Engine::from_dir(&root().join("no-such-folder"));
    assert!(matches!(result, Err(Error::ModelIo { .. })), "{:?}", result.err().map(|e| e.to_string()));
}

/// The two-thread path a check-in takes gives the decision and the embedding of screening, then embedding, one
/// after the other: the same variant on faces, spoofs and photos without a face, and the same embedding to the bit.
#[test]
fn screening_and_embedding_on_two_threads_is_screening_then_embedding() {
    use facecheck::{decode_image, Probe, Screening};
    let mut seen = [0; 3];
    for name in
        ["obama.jpg", "biden2.jpg", "image_T1.jpg", "image_F1.jpg", "image_F2.jpg", "progressive_444.jpg", "gray.jpg"]
    {
        let bytes = std::fs::read(root().join("tests/fixtures").join(name)).expect("fixture");
        let image = decode_image(&bytes).expect("decodes");
        let serial = engine().screen_image(&image).expect("screens");
        match (serial, engine().screen_and_embed(&image).expect("screens and embeds")) {
            (Screening::Retake(a), Probe::Retake(b)) => {
                assert_eq!(a, b, "{name}");
                seen[0] += 1;
            }
            (Screening::SpoofSuspected { .. }, Probe::SpoofSuspected) => seen[1] += 1,
            (Screening::Passed { face, .. }, Probe::Live(probe)) => {
                let embedding = engine().embed_face(&image, &face).expect("embeds");
                assert_eq!(embedding.distance(&probe), 0.0, "{name}: the same embedding");
                seen[2] += 1;
            }
            (serial, _) => panic!("{name}: screened {serial:?} one after the other, not on two threads"),
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "retakes, spoofs and live faces all covered: {seen:?}");
}

#[test]
fn loading_on_threads_and_on_one_thread_gives_the_same_engine() {
    use facecheck::{decode_image, ModelBytes, Screening};
    let manifest = Manifest::shipped();
    let read = |file: &str| std::fs::read(root().join("../../models").join(file)).expect("model");
    let files = [
        read(&manifest.models.detector.model.file),
        read(&manifest.models.embedder.model.file),
        read(&manifest.models.liveness_v2.model.file),
        read(&manifest.models.liveness_v1se.model.file),
    ];
    let bytes =
        || ModelBytes { detector: &files[0], embedder: &files[1], liveness_v2: &files[2], liveness_v1se: &files[3] };
    let engines =
        [Engine::from_bytes(bytes()).expect("loads"), Engine::from_bytes_on_one_thread(bytes()).expect("loads")];
    for name in ["obama.jpg", "image_T1.jpg", "image_F1.jpg"] {
        let image =
            decode_image(&std::fs::read(root().join("tests/fixtures").join(name)).expect("fixture")).expect("decodes");
        let [a, b] = engines.each_ref().map(|e| e.screen_image(&image).expect("screens"));
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}: the same faces, gates and liveness scores");
        if let Screening::Passed { face, .. } = a {
            let [x, y] = engines.each_ref().map(|e| e.embed_face(&image, &face).expect("embeds"));
            assert_eq!(x.distance(&y), 0.0, "{name}: the same embedding");
        }
    }
}
