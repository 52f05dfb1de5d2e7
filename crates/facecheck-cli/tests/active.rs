//! `facecheck liveness --challenge` and `facecheck eval active` on committed fixtures, running the built binary.

mod common;

use common::{fixture, TempDir};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facecheck")).args(args).output().expect("the binary runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn liveness_with_a_challenge_prints_the_poses_and_the_decision() {
    let obama = fixture("obama.jpg");
    let report = json(&run(&["liveness", "--challenge", "nonce-0", &obama, &obama, &obama]));
    assert_eq!(report["challenge"], "nonce-0");
    assert_eq!(report["poses"], serde_json::json!(["left", "right"]));
    assert_eq!(report["decision"], "pose_not_reached", "identical frames: {report}");
    assert!(report["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(report["frames"].as_array().map(Vec::len), Some(3));
    assert_eq!(report["frames"][0]["sight"], "tracked");
    let one = json(&run(&["liveness", "--challenge", "N", &obama]));
    assert_eq!(
        (one["poses"].clone(), one["decision"].clone()),
        (serde_json::json!(["left", "up"]), "too_few_frames".into())
    );
    // Without --challenge, one photo only.
    assert!(!run(&["liveness", &obama, &obama]).status.success());
    // An unreadable frame is an error naming it.
    let output = run(&["liveness", "--challenge", "N", &obama, &fixture("text.jpg")]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("selfie 2"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn eval_active_counts_trials_with_intervals() {
    let dir = TempDir::new("eval-active");
    for (attempt, frames) in [
        ("live/nonce-0", ["obama.jpg", "obama1.jpg", "obama2.jpg"]),
        ("attack/a1", ["image_F1.jpg", "image_F1.jpg", "image_F1.jpg"]),
        ("attack/a2", ["obama.jpg", "obama.jpg", "obama.jpg"]),
    ] {
        let folder = dir.0.join(attempt);
        std::fs::create_dir_all(&folder).expect("creates folders");
        for (i, name) in frames.iter().enumerate() {
            std::fs::copy(fixture(name), folder.join(format!("{i:02}.jpg"))).expect("copies");
        }
    }
    let path = |p: &str| dir.0.join(p).to_str().expect("UTF-8").to_owned();
    let (live, attack) = (path("live"), path("attack"));
    let report = json(&run(&["eval", "active", "--live", &live, "--attack", &attack, "--json"]));
    assert_eq!(report["challenges"], "all_six");
    assert_eq!((report["live"]["attempts"].as_u64(), report["live"]["trials"].as_u64()), (Some(1), Some(6)));
    assert_eq!((report["attack"]["attempts"].as_u64(), report["attack"]["trials"].as_u64()), (Some(2), Some(12)));
    assert_eq!(report["apcer"]["count"].as_u64(), Some(0), "{report}");
    assert_eq!(report["apcer"]["of"].as_u64(), Some(12));
    assert_eq!(report["apcer"]["ci95"][0].as_f64(), Some(0.0));
    let by_name =
        json(&run(&["eval", "active", "--live", &live, "--attack", &attack, "--challenge-from-dirname", "--json"]));
    assert_eq!(by_name["challenges"], "dirname");
    assert_eq!(by_name["live"]["trials"].as_u64(), Some(1));
    assert_eq!(by_name["attack"]["trials"].as_u64(), Some(2));
}
