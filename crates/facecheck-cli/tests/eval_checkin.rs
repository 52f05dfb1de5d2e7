//! `facecheck eval checkin` and `facecheck eval lfw --groups` end to end on a tiny LFW-style folder built from the
//! core's fixture photos, with the tiny label files of `tests/fixtures/lfw-groups`; and the same enrollments and
//! check-ins through the product's own path (`facecheck::checkin` with a vault), which must decide alike.
//!
//! The folder (made at run time; nothing biometric is committed here):
//! - `Person_A`: obama, obama1, obama2 (enrolled), exif_orientation6 (obama1 rotated: a genuine match), cmyk (a
//!   CMYK JPEG the decoder refuses: a failure to acquire);
//! - `Person_B`: biden2, biden, biden mirrored (enrolled), gray (biden2 in grey: the liveness check calls it a spoof);
//! - `Person_C`: image_T1 (live), image_F1, image_F2 (print and screen attacks), image_T1: the enrollment fails at
//!   its second selfie;
//! - `Person_D`: one image, too few to be studied.

mod common;

use common::{fixture_path, TempDir};

use facecheck::checkin::{self, Challenge, Clock, Outcome};
use facecheck::{Engine, Error, Kek};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn groups_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lfw-groups")
}

/// Builds the folder; returns the images of each person in order.
fn tiny_lfw(root: &Path) -> Vec<(&'static str, Vec<PathBuf>)> {
    let people: [(&str, &[&str]); 4] = [
        ("Person_A", &["obama.jpg", "obama1.jpg", "obama2.jpg", "exif_orientation6.jpg", "cmyk.jpg"]),
        ("Person_B", &["biden2.jpg", "biden.jpg", "MIRROR biden.jpg", "gray.jpg"]),
        ("Person_C", &["image_T1.jpg", "image_F1.jpg", "image_F2.jpg", "image_T1.jpg"]),
        ("Person_D", &["obama.jpg"]),
    ];
    people
        .iter()
        .map(|(name, files)| {
            let folder = root.join(name);
            std::fs::create_dir_all(&folder).expect("create the person's folder");
            let paths = files
                .iter()
                .enumerate()
                .map(|(i, file)| {
                    let path = folder.join(format!("{name}_{:04}.jpg", i + 1));
                    match file.strip_prefix("MIRROR ") {
                        Some(source) => {
                            image::open(fixture_path(source)).expect("decodes").fliph().save(&path).expect("saves")
                        }
                        None => {
                            std::fs::copy(fixture_path(file), &path).expect("copy the fixture");
                        }
                    }
                    path
                })
                .collect();
            (*name, paths)
        })
        .collect()
}

fn facecheck(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_facecheck")).args(args).output().expect("the binary runs");
    (out.status.success(), String::from_utf8(out.stdout).expect("UTF-8"), String::from_utf8(out.stderr).expect("UTF-8"))
}

fn json(args: &[&str]) -> Value {
    let (ok, stdout, stderr) = facecheck(args);
    assert!(ok, "facecheck {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// `(count, of)` of a rate object.
fn counts(rate: &Value) -> (u64, u64) {
    let (count, of) = (rate["count"].as_u64().expect("count"), rate["of"].as_u64().expect("of"));
    let (low, high) = (rate["ci95"][0].as_f64().expect("low"), rate["ci95"][1].as_f64().expect("high"));
    let value = rate["rate"].as_f64().expect("rate");
    assert!(low <= value && value <= high && (0.0..=1.0).contains(&low) && high <= 1.0, "{rate}");
    (count, of)
}

#[test]
fn eval_checkin_counts_enrollments_genuine_and_impostor_checkins_per_group() {
    let dir = TempDir::new("checkin");
    let lfw = dir.0.join("lfw");
    tiny_lfw(&lfw);
    let plot = dir.0.join("groups.png");
    let groups = groups_dir();
    let r = json(&[
        "eval",
        "checkin",
        "--images",
        lfw.to_str().expect("UTF-8"),
        "--groups",
        groups.to_str().expect("UTF-8"),
        "--json",
        "--plot",
        plot.to_str().expect("UTF-8"),
    ]);
    assert_eq!(
        (r["enroll"].as_u64(), r["identities"].as_u64(), r["identities_studied"].as_u64()),
        (Some(3), Some(4), Some(3))
    );
    assert_eq!(r["images"], 13, "Person_D is not studied");
    assert_eq!(r["impostor_probes"], "all");
    assert_eq!(r["policy"].as_str(), Some(checkin::policy_id().as_str()));

    let o = &r["overall"];
    assert_eq!(counts(&o["enrollment_failure"]), (1, 3));
    assert_eq!(o["enrollment_failure_reasons"], serde_json::json!({ "spoof_suspected": 1 }));
    assert_eq!(o["genuine_checkins"], 3, "A: exif_orientation6 and cmyk; B: gray");
    assert_eq!(counts(&o["failure_to_acquire"]), (1, 3));
    assert_eq!(o["failure_to_acquire_reasons"], serde_json::json!({ "unreadable": 1 }));
    assert_eq!(counts(&o["spoof_suspected"]), (1, 3));
    assert_eq!(counts(&o["fnmr"]), (0, 1), "the rotated obama1 matches the template");
    assert_eq!(counts(&o["genuine_rejection"]), (2, 3));
    // Template A against B's 4 and C's 4 images, template B against A's 5 and C's 4; compared are those that pass.
    assert_eq!(o["impostor_checkins"], 17);
    assert_eq!(o["impostor_not_acquired"], 6, "gray, F1, F2 against A; cmyk, F1, F2 against B");
    assert_eq!(counts(&o["fmr"]), (0, 11));
    assert_eq!(counts(&o["quality_rejection"]), (1, 13));
    assert_eq!(counts(&o["liveness_rejection"]), (3, 12));
    assert_eq!(o["thresholds_at_fmr"][0]["supported"], false, "11 impostor comparisons cannot support 1e-3");

    let gender = &r["groups"]["gender"];
    assert_eq!(counts(&gender["male"]["enrollment_failure"]), (0, 2));
    assert_eq!(counts(&gender["female"]["enrollment_failure"]), (1, 1));
    assert_eq!(gender["male"]["genuine_checkins"], 3);
    assert_eq!(gender["female"]["genuine_checkins"], 0);
    assert_eq!(gender["male"]["impostor_checkins"], 9, "A against B, B against A");
    assert_eq!(gender["mixed"]["impostor_checkins"], 8, "the male templates against the female images");
    assert_eq!(counts(&gender["mixed"]["fmr"]), (0, 4), "only C's two live photos are compared");
    assert_eq!(counts(&gender["male"]["quality_rejection"]), (1, 9));
    assert_eq!(counts(&gender["female"]["liveness_rejection"]), (2, 4));
    let race = &r["groups"]["race"];
    assert_eq!(race["caucasian"]["enrollments"], 2, "A lists caucasian among two values");
    assert_eq!(race["african"]["enrollments"], 1);
    assert_eq!(race["caucasian"]["impostor_checkins"], 9, "A and B share caucasian");
    assert_eq!(race["african"]["impostor_checkins"], 0);
    assert_eq!(race["unlabelled"]["impostor_checkins"], 8);
    assert_eq!(race["african"]["genuine_checkins"], 2);

    let png = std::fs::read(&plot).expect("the plot is written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let img = image::load_from_memory(&png).expect("decodes");
    assert!(img.width() > 800 && img.height() > 200, "{}x{}", img.width(), img.height());

    // With retakes, C's two attack photos are skipped and only two live ones are left.
    let r = json(&["eval", "checkin", "--images", lfw.to_str().expect("UTF-8"), "--retakes", "--json"]);
    assert_eq!(r["overall"]["enrollment_failure_reasons"], serde_json::json!({ "too_few_usable_selfies": 1 }));
    assert_eq!(r["overall"]["enrollment_retakes"], 2);
    assert!(r.get("groups").is_none(), "no groups without --groups");

    // The text report and the argument checks.
    let (ok, text, _) = facecheck(&["eval", "checkin", "--images", lfw.to_str().expect("UTF-8")]);
    assert!(ok && text.contains("FNMR") && text.contains("enrollment failures"), "{text}");
    let (ok, _, err) = facecheck(&["eval", "checkin", "--images", lfw.to_str().expect("UTF-8"), "--enroll", "2"]);
    assert!(!ok && err.contains("--enroll must be from 3 to 5"), "{err}");
    let (ok, _, err) = facecheck(&["eval", "checkin", "--images", lfw.to_str().expect("UTF-8"), "--enroll", "5"]);
    assert!(!ok && err.contains("fewer than two identities"), "{err}");
}

#[test]
fn the_product_path_decides_as_the_evaluation_counts() {
    // The same enrollments and check-ins through `facecheck::checkin` with real vaults.
    let dir = TempDir::new("product");
    let people = tiny_lfw(&dir.0.join("lfw"));
    let engine = Engine::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")).expect("models");
    let kek = Kek::from_bytes(&[7; 32]);
    let now = 1_800_000_000;
    let read = |p: &PathBuf| std::fs::read(p).expect("read");
    let mut vaults = Vec::new();
    for (name, images) in &people[..3] {
        let selfies: Vec<Vec<u8>> = images[..3].iter().map(read).collect();
        let path = dir.0.join(format!("{name}.vault"));
        match checkin::enroll(&engine, &path, &kek, name, "fleet", &selfies, Clock::wall_only(now)) {
            Ok(enrolled) => vaults.push(enrolled.vault),
            Err(e) => {
                assert_eq!(*name, "Person_C", "{name}: {e}");
                assert!(matches!(e, Error::EnrollmentSpoofSuspected { selfie: 2 }), "{e}");
            }
        }
    }
    assert_eq!(vaults.len(), 2, "A and B enroll, C does not: one enrollment failure, spoof_suspected");
    let decide = |vault: &mut facecheck::Vault, image: &PathBuf, at: u64| {
        let challenge = Challenge { nonce: "n", block: "b" };
        checkin::check_in(&engine, vault, &challenge, &[read(image)], Clock::wall_only(at)).map(|c| c.outcome)
    };
    let (a, b) = (&people[0].1, &people[1].1);
    assert_eq!(decide(&mut vaults[0], &a[3], now + 1).expect("decides"), Outcome::Match, "the genuine comparison");
    assert!(matches!(decide(&mut vaults[0], &a[4], now + 2), Err(Error::Selfie { .. })), "unreadable");
    assert_eq!(decide(&mut vaults[1], &b[3], now + 3).expect("decides"), Outcome::SpoofSuspected);
    // Impostors: no match for any compared image of another person. With the spoof, the fourth is the fifth failed
    // attempt since the last match: it is compared (and decided) before it locks check-in.
    for (probe, at) in a[..4].iter().zip((1..).map(|i| i * 10)) {
        assert_eq!(decide(&mut vaults[1], probe, now + at).expect("decides"), Outcome::NoMatch);
    }
}

#[test]
fn eval_lfw_groups_break_the_pairs_down() {
    let dir = TempDir::new("lfw");
    let lfw = dir.0.join("lfw");
    tiny_lfw(&lfw);
    let pairs = dir.0.join("pairs.txt");
    std::fs::write(&pairs, "2\nPerson_A 1 2\nPerson_B 1 2\nPerson_A 1 Person_B 2\nPerson_A 2 Person_C 1\n")
        .expect("write");
    let (lfw, pairs, groups) = (lfw.to_str().expect("UTF-8"), pairs.to_str().expect("UTF-8"), groups_dir());
    let args = ["eval", "lfw", "--images", lfw, "--pairs", pairs, "--train-pairs", pairs, "--json", "--groups"];
    let r = json(&[&args[..], &[groups.to_str().expect("UTF-8")]].concat());
    let all = &r["at_shipped_threshold"];
    assert_eq!((all["genuine_pairs"].as_u64(), all["impostor_pairs"].as_u64()), (Some(2), Some(2)));
    assert_eq!(counts(&all["fnmr"]), (0, 2));
    assert_eq!(counts(&all["fmr"]), (0, 2));
    let gender = &r["groups"]["gender"];
    assert_eq!(
        (gender["male"]["genuine_pairs"].as_u64(), gender["male"]["impostor_pairs"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (gender["mixed"]["genuine_pairs"].as_u64(), gender["mixed"]["impostor_pairs"].as_u64()),
        (Some(0), Some(1))
    );
    let race = &r["groups"]["race"];
    assert_eq!(race["caucasian"]["genuine_pairs"], 2);
    assert_eq!(race["caucasian"]["impostor_pairs"], 1);
    assert_eq!(race["african"]["genuine_pairs"], 1);
    assert_eq!(race["unlabelled"]["impostor_pairs"], 1);
    assert!(r["shipped_threshold"].as_f64().expect("threshold") > 0.0);
}
