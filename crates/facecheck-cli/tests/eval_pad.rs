//! `facecheck eval pad` and `facecheck liveness --edits` on the committed fixtures, running the built binary:
//! subject-disjoint folds, the rates under edits, and the errors for sets that cannot be folded by subject.

mod common;

use common::{fixture_path, TempDir};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facecheck")).args(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// `live/<subject>/...` and `spoof/<subject>/...` from fixture photos: three subjects, one live and one attack
/// photo each where the fixtures allow.
fn pad_set(dir: &TempDir) -> (String, String) {
    let layout = [
        ("live/s1/s1_0_1.jpg", "image_T1.jpg"),
        ("live/s2/s2_0_1.jpg", "obama.jpg"),
        ("live/s3/s3_0_1.jpg", "biden.jpg"),
        ("spoof/s1/s1_0_1.jpg", "image_F1.jpg"),
        ("spoof/s2/s2_0_1.jpg", "image_F2.jpg"),
    ];
    for (to, from) in layout {
        let path = dir.0.join(to);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("creates folders");
        std::fs::copy(fixture_path(from), path).expect("copies the fixture");
    }
    let folder = |name: &str| dir.0.join(name).to_str().expect("UTF-8 path").to_owned();
    (folder("live"), folder("spoof"))
}

#[test]
fn eval_pad_folds_by_subject_under_edits() {
    let dir = TempDir::new("eval-pad");
    let (live, spoof) = pad_set(&dir);
    let args = ["eval", "pad", "--live", &live, "--spoof", &spoof, "--folds-by-subject", "3", "--perturb", "--json"];
    let output = run(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&output.stdout)).expect("JSON");
    assert_eq!((report["live"].as_u64(), report["spoof"].as_u64()), (Some(3), Some(2)));
    let folds = &report["folds"];
    assert_eq!(folds["folds"], serde_json::json!([["s1"], ["s2"], ["s3"]]));
    let edits = report["shipped_under_edits"].as_array().expect("per edit");
    assert_eq!(edits.len(), facecheck::edits::Edit::ROBUSTNESS.len());
    for (r, edit) in edits.iter().zip(facecheck::edits::Edit::ROBUSTNESS) {
        assert_eq!(r["condition"].as_str(), Some(edit.name().as_str()));
        // The shipped rule keeps both attacks out and lets the three live photos in after every edit.
        assert_eq!((r["apcer"]["count"].as_u64(), r["apcer"]["of"].as_u64()), (Some(0), Some(2)), "{r}");
        assert_eq!((r["bpcer"]["count"].as_u64(), r["bpcer"]["of"].as_u64()), (Some(0), Some(3)), "{r}");
    }
    let families = folds["families"].as_array().expect("families");
    let names: Vec<&str> = families.iter().filter_map(|f| f["family"].as_str()).collect();
    assert_eq!(names, ["mean", "min", "both"]);
    for family in families {
        assert_eq!(family["rules"].as_array().map(Vec::len), Some(3), "one rule per fold");
        let frames = family["frames"].as_array().expect("frames");
        assert_eq!(frames.len(), 1 + edits.len(), "unedited, then each edit");
        // Every photo is decided once, by the fold that holds its subject out.
        assert_eq!((frames[0]["apcer"]["of"].as_u64(), frames[0]["bpcer"]["of"].as_u64()), (Some(2), Some(3)));
        assert_eq!(family["sequences"][0]["bpcer"]["of"].as_u64(), Some(3));
    }
}

#[test]
fn eval_pad_explains_sets_it_cannot_fold() {
    let dir = TempDir::new("eval-pad-flat");
    let (live, spoof) = pad_set(&dir);
    let output = run(&["eval", "pad", "--live", &live, "--spoof", &spoof, "--folds-by-subject", "4"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("number of subjects (3)"), "{}", text(&output.stderr));
    std::fs::copy(fixture_path("obama1.jpg"), dir.0.join("live/loose.jpg")).expect("copies");
    let output = run(&["eval", "pad", "--live", &live, "--spoof", &spoof, "--folds-by-subject", "2"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("one folder per subject"), "{}", text(&output.stderr));
}

#[test]
fn liveness_edits_lists_every_edit_with_a_decision() {
    let print = fixture_path("image_F1.jpg");
    let output = run(&["liveness", "--edits", print.to_str().expect("UTF-8 path")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("decision: spoof_suspected"), "{stdout}");
    for edit in facecheck::edits::Edit::ROBUSTNESS {
        let line = stdout.lines().find(|l| l.starts_with(&edit.name())).unwrap_or_else(|| panic!("{stdout}"));
        assert!(line.ends_with("spoof_suspected"), "{line}");
    }
}
