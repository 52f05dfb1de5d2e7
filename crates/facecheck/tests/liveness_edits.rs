//! The liveness decision holds under small edits (issue 13): the Silent-Face print (`image_F1`, the one print
//! attack outside the data the rule was chosen on) and screen replay (`image_F2`) stay attacks, and the live sample
//! (`image_T1`) stays live, after each edit of [`Edit::ROBUSTNESS`] (contrast x0.7 to x1.5, gamma, unsharp mask,
//! JPEG re-encoding, a 5° turn either way), through the public engine and the shipped models and rule.

use facecheck::edits::Edit;
use facecheck::{decode_image, Engine, FaceChoice, LivenessScore, Screening};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::from_dir(&root().join("../../models")).expect("shipped models load"))
}

fn fixture(name: &str) -> RgbImage {
    decode_image(&std::fs::read(root().join("tests/fixtures").join(name)).expect("fixture")).expect("decodes")
}

/// The liveness verdict on the largest face, whatever the quality gates say.
fn liveness(image: &RgbImage) -> Option<LivenessScore> {
    let faces = engine().detector().detect(image).expect("detects");
    let face = FaceChoice::Largest.pick(&faces, image.width(), image.height())?;
    Some(engine().liveness().check(image, face).expect("scores"))
}

/// Every edit (and none) under which `name` is not decided as `live` says, with what the models said.
fn wrong_decisions(name: &str, live: bool) -> Vec<String> {
    let image = fixture(name);
    let mut wrong = Vec::new();
    for edit in std::iter::once(None).chain(Edit::ROBUSTNESS.iter().map(Some)) {
        let edited = match edit {
            Some(edit) => edit.apply(&image).expect("applies"),
            None => image.clone(),
        };
        let label = edit.map_or_else(|| "unedited".to_owned(), Edit::name);
        let score = liveness(&edited);
        let screening = engine().screen_image(&edited).expect("screens");
        let right = match (live, &screening) {
            (true, Screening::Passed { .. }) => true,
            // An attack must be caught by the liveness check itself, not only turned away for a retake.
            (false, Screening::SpoofSuspected { .. }) => true,
            (false, Screening::Retake(_)) => score.is_some_and(|s| !s.is_live),
            _ => false,
        };
        if !right {
            let models = score
                .map_or("no face".to_owned(), |s| format!("v2 {:.4}, v1se {:.4}", s.minifasnet_v2, s.minifasnet_v1se));
            let decision = match screening {
                Screening::Passed { .. } => "live".to_owned(),
                Screening::SpoofSuspected { .. } => "spoof_suspected".to_owned(),
                Screening::Retake(issue) => format!("retake ({})", issue.code()),
            };
            wrong.push(format!("{name} {label}: {decision} ({models})"));
        }
    }
    wrong
}

#[test]
fn the_out_of_sample_print_stays_an_attack_under_every_edit() {
    let wrong = wrong_decisions("image_F1.jpg", false);
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_screen_replay_stays_an_attack_under_every_edit() {
    let wrong = wrong_decisions("image_F2.jpg", false);
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_live_sample_stays_live_under_every_edit() {
    let wrong = wrong_decisions("image_T1.jpg", true);
    assert!(wrong.is_empty(), "{wrong:#?}");
}
