//! The active head-turn check (`Engine::check_active`) on sequences built from real photos.
//!
//! The committed fixtures hold one turned face with a frontal photo of the same person: `obama1.jpg` (turned to
//! his left, yaw 0.26) and `obama.jpg` (frontal). Its mirror image is the same face turned to his right. Each photo
//! is reframed around its face (a square three face-widths wide, 400x400) so that a sequence of different photos
//! keeps the face in one place, as a phone's preview would. Tests that need `../shared/data` (LFW identities,
//! NUAA's print attacks) skip with a message when it is absent.
//!
//! Every test here is named `active_*`: they run the models on whole sequences, and `scripts/test-bionic.sh` skips
//! them under qemu (the stages they run are checked on aarch64 by the golden and cross-architecture tests); the
//! cheap bounds tests of the sequence entry point are in `sequence_bounds.rs`, which runs there too.

use facecheck::{
    ActiveChallenge, ActiveDecision, Error, FaceChoice, FrameData, FrameSight, Pose, Rotation, TimedFrame,
};
use image::RgbImage;
use std::path::PathBuf;

mod sequences;

use sequences::{engine, fixture, framed, obama, png, root};

fn left_right() -> ActiveChallenge {
    ActiveChallenge::new([Pose::Left, Pose::Right]).expect("two poses")
}

fn decide(challenge: &ActiveChallenge, frames: &[Vec<u8>]) -> facecheck::ActiveVerdict {
    engine().check_active(challenge, frames).expect("decides")
}

#[test]
fn active_the_fixture_poses_are_what_the_sequences_assume() {
    let [f, l, r] = obama();
    let pose = |bytes: &[u8]| {
        let image = facecheck::decode_image(bytes).expect("decodes");
        let faces = engine().detector().detect(&image).expect("detects");
        let face = FaceChoice::Largest.pick(&faces, image.width(), image.height()).expect("a face");
        facecheck::HeadPose::from_landmarks(&face.landmarks).expect("pose")
    };
    let (f, l, r) = (pose(&f), pose(&l), pose(&r));
    assert!(f.yaw.abs() < 0.1, "{f:?}");
    assert!(l.yaw > 0.2 && r.yaw < -0.2, "{l:?} {r:?}");
    // The mirror turns the other way about as far: YuNet's landmarks are not quite mirror-symmetric (0.26 and
    // -0.21 on these two), a measure of the estimate's noise.
    assert!((l.yaw + r.yaw).abs() < 0.08, "{l:?} {r:?}");
}

#[test]
fn active_a_sequence_that_follows_the_challenge_is_live() {
    let [f, l, r] = obama();
    let verdict = decide(&left_right(), &[f.clone(), l.clone(), r.clone()]);
    assert_eq!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
    assert_eq!((verdict.frontal_frame, verdict.reached.clone()), (Some(0), vec![Some(1), Some(2)]));
    // Frames between the poses, and a frame without a face, change nothing.
    let grey = png(&RgbImage::from_pixel(400, 400, image::Rgb([120, 120, 120])));
    let verdict = decide(&left_right(), &[f.clone(), grey, l.clone(), l, f, r]);
    assert_eq!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
    assert_eq!(verdict.frames[1].sight, FrameSight::NoFace);
    assert_eq!(verdict.reached, vec![Some(2), Some(5)]);
    // The same frames for the nonce that derives this challenge.
    assert_eq!(ActiveChallenge::from_nonce("nonce-0"), left_right());
}

#[test]
fn active_the_same_frames_in_the_wrong_order_fail() {
    let [f, l, r] = obama();
    let verdict = decide(&left_right(), &[f.clone(), r.clone(), l.clone()]);
    assert_eq!(verdict.decision, ActiveDecision::PoseNotReached, "{verdict:?}");
    // A recording that shows every pose does not pass every challenge: an unexpected pose fails at once.
    let verdict = decide(&left_right(), &[f.clone(), r.clone(), l.clone(), r.clone()]);
    assert_eq!(verdict.decision, ActiveDecision::PoseNotReached, "{verdict:?}");
    // A challenge asking for a pose the frames never show.
    let up_left = ActiveChallenge::new([Pose::Up, Pose::Left]).expect("two poses");
    assert_eq!(decide(&up_left, &[f, l, r]).decision, ActiveDecision::PoseNotReached);
}

#[test]
fn active_identical_frames_fail() {
    let [f, l, _] = obama();
    for frames in [vec![f.clone(); 5], vec![l.clone(); 5]] {
        let verdict = decide(&left_right(), &frames);
        assert_eq!(verdict.decision, ActiveDecision::PoseNotReached, "{verdict:?}");
    }
}

#[test]
fn active_a_sequence_that_swaps_to_another_person_fails() {
    let [_, l, r] = obama();
    // Someone else's frontal face, then Obama doing the turns: the turns are not the frontal face's person.
    let biden = framed(&fixture("biden2.jpg"));
    let verdict = decide(&left_right(), &[biden, l.clone(), r.clone()]);
    assert_eq!(verdict.decision, ActiveDecision::FaceChanged, "{verdict:?}");
    // A face that jumps across the frame between two frames is a cut to another face.
    let [f, ..] = obama();
    let shifted = {
        let image = facecheck::decode_image(&f).expect("decodes");
        let mut wide = RgbImage::from_pixel(1200, 400, image::Rgb([0, 0, 0]));
        image::imageops::replace(&mut wide, &image, 800, 0);
        png(&wide)
    };
    let mut first = RgbImage::from_pixel(1200, 400, image::Rgb([0, 0, 0]));
    image::imageops::replace(&mut first, &facecheck::decode_image(&f).expect("decodes"), 0, 0);
    let verdict = decide(&left_right(), &[png(&first), shifted, l, r]);
    assert_eq!(verdict.decision, ActiveDecision::FaceChanged, "{verdict:?}");
    assert!(verdict.reason.contains("jumped between frames 1 and 2"), "{}", verdict.reason);
}

#[test]
fn active_a_print_attack_fails_the_passive_check_even_with_the_right_turns() {
    // The Silent-Face printed photo as the frontal frame is refused by the passive check (or, failing that, by the
    // identity of the turns); never live.
    let print = framed(&fixture("image_F1.jpg"));
    let [_, l, r] = obama();
    let verdict = decide(&left_right(), &[print, l, r]);
    assert_ne!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
}

#[test]
fn active_frame_counts_are_bounded() {
    let none: [Vec<u8>; 0] = [];
    assert_eq!(decide(&left_right(), &none).decision, ActiveDecision::TooFewFrames);
    let [f, ..] = obama();
    let verdict = decide(&left_right(), &[f]);
    assert_eq!(verdict.decision, ActiveDecision::TooFewFrames);
    assert_eq!(verdict.tracked_frames(), 1);
    // Too many frames are refused before any is decoded.
    let many = vec![b"not an image".to_vec(); facecheck::active::MAX_ACTIVE_FRAMES + 1];
    assert!(matches!(
        engine().check_active(&left_right(), &many),
        Err(Error::CheckinFrameCount { given: 65, max: 64 })
    ));
    // An unreadable frame is an error that names it.
    let [f, l, _] = obama();
    let result = engine().check_active(&left_right(), &[f, l, b"not an image".to_vec()]);
    assert!(matches!(result, Err(Error::Selfie { index: 3, .. })), "{result:?}");
    // No faces at all.
    let grey = png(&RgbImage::from_pixel(64, 64, image::Rgb([120, 120, 120])));
    let verdict = decide(&left_right(), &vec![grey; 4]);
    assert_eq!(verdict.decision, ActiveDecision::TooFewFrames);
    assert!(verdict.frames.iter().all(|f| f.sight == FrameSight::NoFace));
}

// ---- timed frames (the check-in's entry point) ----

/// `bytes` (a picture with even sides) as NV21 stored turned a quarter anticlockwise, as a phone's sensor holds a
/// portrait frame: rotation 90 makes it upright again.
fn nv21_of(bytes: &[u8]) -> (Vec<u8>, u32, u32) {
    let image = image::imageops::rotate270(&facecheck::decode_image(bytes).expect("decodes"));
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut out = vec![0u8; w * h * 3 / 2];
    let px = |x: usize, y: usize| image.get_pixel(x as u32, y as u32).0.map(f64::from);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = px(x, y);
            out[y * w + x] = (0.299 * r + 0.587 * g + 0.114 * b).round() as u8;
        }
    }
    for by in 0..h / 2 {
        for bx in 0..w / 2 {
            let [r, g, b] = px(2 * bx, 2 * by);
            out[w * h + by * w + 2 * bx] = (128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b).round() as u8;
            out[w * h + by * w + 2 * bx + 1] = (128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b).round() as u8;
        }
    }
    (out, w as u32, h as u32)
}

fn at_times<'a>(frames: &'a [Vec<u8>], times: &[u64]) -> Vec<TimedFrame<'a>> {
    frames.iter().zip(times).map(|(f, &time_ms)| TimedFrame { data: FrameData::Encoded(f), time_ms }).collect()
}

#[test]
fn active_timed_frames_within_the_limits_are_live_and_slow_ones_are_not() {
    let [f, l, r] = obama();
    let frames = [f, l, r];
    let verdict = engine().check_active_timed(&left_right(), &at_times(&frames, &[1_000, 2_500, 4_000])).expect("ok");
    assert_eq!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
    // The first pose more than MAX_STEP_MS after the first frame, or the second after the first.
    let step = facecheck::active::MAX_STEP_MS;
    for times in [[0, step + 1, step + 2], [0, 100, step + 101]] {
        let verdict = engine().check_active_timed(&left_right(), &at_times(&frames, &times)).expect("decides");
        assert_eq!(verdict.decision, ActiveDecision::TooSlow, "{times:?}: {verdict:?}");
    }
    // Exactly at the limits is in time.
    let verdict = engine().check_active_timed(&left_right(), &at_times(&frames, &[0, step, 2 * step])).expect("ok");
    assert_eq!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
    // The same frames out of time order are refused, before any is examined.
    let result = engine().check_active_timed(&left_right(), &at_times(&frames, &[0, 2_000, 1_000]));
    assert!(matches!(result, Err(Error::FramesOutOfOrder { index: 3 })), "{result:?}");
}

#[test]
fn active_nv21_preview_frames_decide_as_the_pictures_do() {
    let [f, l, r] = obama();
    let buffers: Vec<(Vec<u8>, u32, u32)> = [&f, &l, &r].into_iter().map(|b| nv21_of(b)).collect();
    let frames: Vec<TimedFrame> = buffers
        .iter()
        .enumerate()
        .map(|(i, (data, width, height))| TimedFrame {
            data: FrameData::Nv21 { width: *width, height: *height, rotation: Rotation::R90, data },
            time_ms: 500 * i as u64,
        })
        .collect();
    let verdict = engine().check_active_timed(&left_right(), &frames).expect("decides");
    assert_eq!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
    // Stated upright (rotation 0), the faces lie on their side: no upright face to track.
    let sideways: Vec<TimedFrame> = frames
        .iter()
        .map(|t| match t.data {
            FrameData::Nv21 { width, height, data, .. } => {
                TimedFrame { data: FrameData::Nv21 { width, height, rotation: Rotation::R0, data }, ..*t }
            }
            FrameData::Encoded(_) => unreachable!("all NV21"),
        })
        .collect();
    let verdict = engine().check_active_timed(&left_right(), &sideways).expect("decides");
    assert_ne!(verdict.decision, ActiveDecision::Live, "{verdict:?}");
}

// ---- with ../shared/data ----

fn shared(path: &str) -> Option<PathBuf> {
    let dir = root().join("../../../shared/data").join(path);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

/// NUAA's print attacks, one sequence per capture (frames in the order of their frame numbers): none passes any of
/// the six challenges.
#[test]
fn active_nuaa_print_attack_sequences_fail_every_challenge() {
    let Some(spoof) = shared("pad-dev/nuaa-train-subset/spoof") else { return };
    let mut captures: std::collections::BTreeMap<String, Vec<(u32, PathBuf)>> = Default::default();
    for subject in std::fs::read_dir(&spoof).expect("lists") {
        for frame in std::fs::read_dir(subject.expect("entry").path()).expect("lists") {
            let path = frame.expect("entry").path();
            let stem = path.file_stem().expect("name").to_string_lossy().into_owned();
            let (capture, number) = stem.rsplit_once('_').expect("capture_frame");
            captures.entry(capture.to_owned()).or_default().push((number.parse().expect("a frame number"), path));
        }
    }
    assert!(captures.len() >= 40, "{} captures", captures.len());
    let challenges: Vec<ActiveChallenge> = Pose::ALL
        .into_iter()
        .flat_map(|a| Pose::ALL.into_iter().filter_map(move |b| ActiveChallenge::new([a, b])))
        .collect();
    let mut decisions: std::collections::BTreeMap<&str, usize> = Default::default();
    for (capture, mut frames) in captures {
        frames.sort();
        let bytes: Vec<Vec<u8>> = frames.iter().map(|(_, p)| std::fs::read(p).expect("frame")).collect();
        for challenge in &challenges {
            let verdict = decide(challenge, &bytes);
            assert_ne!(verdict.decision, ActiveDecision::Live, "{capture}: {verdict:?}");
            *decisions.entry(verdict.decision.code()).or_insert(0) += 1;
        }
    }
    eprintln!("NUAA print sequences x 6 challenges: {decisions:?}");
}
