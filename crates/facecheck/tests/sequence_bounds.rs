//! Bounded input to the active check's sequence entry point (`Engine::check_active_timed`): no frames, one frame,
//! a thousand frames, mixed sizes and formats, garbage, NV21 buffers of the wrong length, too many bytes, times out
//! of order, and a deterministic stream of random sequences. Each must come back as a decision or a typed error,
//! never a panic; the refusals that need no decoding must come before any frame is decoded (which the tests show by
//! putting an undecodable frame first: its error would win otherwise).
//!
//! The frames here hold no face, or garbage: the models run on a few small pictures only. The tests are named
//! `sequence_bounds_*` and run under qemu too (`scripts/test-bionic.sh`).

use facecheck::frame::{FrameData, Rotation, TimedFrame, MAX_NV21_SIDE, MAX_SEQUENCE_BYTES};
use facecheck::{ActiveChallenge, ActiveDecision, Engine, Error, FrameSight, Pose};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    ENGINE.get_or_init(|| Engine::from_dir(&models).expect("shipped models load"))
}

fn challenge() -> ActiveChallenge {
    ActiveChallenge::new([Pose::Left, Pose::Right]).expect("two poses")
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_pixel(width, height, image::Rgb([120, 120, 120]));
    let mut out = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).expect("encodes");
    out
}

/// A mid-grey NV21 buffer.
fn grey_nv21(width: u32, height: u32) -> Vec<u8> {
    let luma = (width * height) as usize;
    let mut data = vec![120u8; luma];
    data.resize(luma * 3 / 2, 128);
    data
}

fn nv21(data: &[u8], width: u32, height: u32, degrees: i32) -> FrameData<'_> {
    FrameData::Nv21 { width, height, rotation: Rotation::from_degrees(degrees).expect("a rotation"), data }
}

/// Frames 100 ms apart from `t0`.
fn timed<'a>(frames: &[FrameData<'a>], t0: u64) -> Vec<TimedFrame<'a>> {
    frames.iter().enumerate().map(|(i, &data)| TimedFrame { data, time_ms: t0 + 100 * i as u64 }).collect()
}

fn run(frames: &[TimedFrame<'_>]) -> facecheck::Result<facecheck::ActiveVerdict> {
    engine().check_active_timed(&challenge(), frames)
}

#[test]
fn sequence_bounds_no_frames_and_one_frame_are_too_few() {
    let verdict = run(&[]).expect("decides");
    assert_eq!(verdict.decision, ActiveDecision::TooFewFrames);
    assert!(verdict.frames.is_empty());
    let one = png(64, 64);
    let verdict = run(&timed(&[FrameData::Encoded(&one)], 0)).expect("decides");
    assert_eq!(verdict.decision, ActiveDecision::TooFewFrames);
    assert_eq!(verdict.frames[0].sight, FrameSight::NoFace);
}

#[test]
fn sequence_bounds_a_thousand_frames_are_refused_before_decoding() {
    // Garbage that would fail to decode: the count is refused first. The frames share one buffer (borrowed), so
    // the test holds one copy.
    let garbage = b"not an image".to_vec();
    let frames = timed(&vec![FrameData::Encoded(&garbage); 1_000], 0);
    assert!(matches!(run(&frames), Err(Error::CheckinFrameCount { given: 1_000, max: 64 })));
    let buffer = grey_nv21(640, 480);
    let frames = timed(&vec![nv21(&buffer, 640, 480, 0); 1_000], 0);
    assert!(matches!(run(&frames), Err(Error::CheckinFrameCount { given: 1_000, max: 64 })));
    // The stills entry point too.
    assert!(matches!(
        engine().check_active(&challenge(), &vec![garbage; 1_000]),
        Err(Error::CheckinFrameCount { given: 1_000, max: 64 })
    ));
}

#[test]
fn sequence_bounds_too_many_bytes_are_refused_before_decoding() {
    // Five frames of garbage at the decoder's 16 MiB limit each: 80 MiB in all.
    let big = vec![0u8; 16 << 20];
    let frames = timed(&[FrameData::Encoded(&big); 5], 0);
    match run(&frames) {
        Err(Error::FramesTooLarge { given, max }) => assert_eq!((given, max), (80 << 20, MAX_SEQUENCE_BYTES)),
        other => panic!("{other:?}"),
    }
    // One frame over the decoder's limit: refused by its size, before the garbage frame before it is decoded.
    let over = vec![0u8; (16 << 20) + 1];
    let frames = timed(&[FrameData::Encoded(b"garbage"), FrameData::Encoded(&over)], 0);
    assert!(matches!(run(&frames), Err(Error::Selfie { index: 2, .. })));
}

#[test]
fn sequence_bounds_nv21_of_the_wrong_size_is_refused_before_decoding() {
    let right = grey_nv21(640, 480);
    let cases: Vec<(Vec<u8>, u32, u32)> = vec![
        (right[..right.len() - 1].to_vec(), 640, 480), // one byte short
        ([right.as_slice(), &[0]].concat(), 640, 480), // one byte long
        (right.clone(), 480, 640 + 2),                 // a size the bytes do not fit
        (Vec::new(), 640, 480),                        // empty
        (vec![0; 3], 2, 2),                            // too small
        (grey_nv21(MAX_NV21_SIDE + 2, 16), MAX_NV21_SIDE + 2, 16),
        (grey_nv21(1920, 1088), 1920, 1088), // over 1920x1080 pixels
        (grey_nv21(640, 480)[..460_800 - 1].to_vec(), 639, 480),
    ];
    for (data, width, height) in &cases {
        // An undecodable frame first: the NV21 frame's bounds are refused before it is decoded.
        let frames = timed(&[FrameData::Encoded(b"garbage"), nv21(data, *width, *height, 0)], 0);
        match run(&frames) {
            Err(Error::Selfie { index: 2, source }) => {
                assert!(matches!(*source, Error::InvalidFrame(_)), "{width}x{height}, {}: {source}", data.len())
            }
            other => panic!("{width}x{height}, {} bytes: {other:?}", data.len()),
        }
    }
}

#[test]
fn sequence_bounds_times_must_increase() {
    let frame = png(32, 32);
    for times in [[0, 100, 100], [0, 200, 100], [5, 4, 6]] {
        let frames: Vec<TimedFrame> =
            times.iter().map(|&time_ms| TimedFrame { data: FrameData::Encoded(&frame), time_ms }).collect();
        match run(&frames) {
            Err(Error::FramesOutOfOrder { index }) => assert!(index >= 2, "{times:?}: {index}"),
            other => panic!("{times:?}: {other:?}"),
        }
    }
    // A sequence spanning more than the limit is too slow, decided from the times before any frame is decoded
    // (these are garbage).
    let frames: Vec<TimedFrame> = [0, 7_000, 15_001]
        .iter()
        .map(|&time_ms| TimedFrame { data: FrameData::Encoded(b"garbage"), time_ms })
        .collect();
    let verdict = run(&frames).expect("decides");
    assert_eq!(verdict.decision, ActiveDecision::TooSlow);
    assert!(verdict.frames.iter().all(|f| f.sight == FrameSight::NotExamined));
}

#[test]
fn sequence_bounds_garbage_and_mixed_sizes() {
    // Garbage encoded bytes: an error naming the frame.
    let grey = png(64, 48);
    for garbage in [&b"\xff\xd8\xff"[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", &[0u8; 1_000]] {
        let frames = timed(&[FrameData::Encoded(&grey), FrameData::Encoded(garbage)], 0);
        assert!(matches!(run(&frames), Err(Error::Selfie { index: 2, .. })), "{garbage:?}");
    }
    // Garbage pixels in a well-formed NV21 buffer are a picture like any other.
    let noise: Vec<u8> = (0..96u32 * 64 * 3 / 2).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    // Mixed sizes, formats and rotations in one sequence: decided, frame by frame.
    let (a, b, c) = (grey_nv21(640, 480), grey_nv21(320, 240), png(400, 400));
    let frames = timed(
        &[nv21(&a, 640, 480, 90), FrameData::Encoded(&c), nv21(&b, 320, 240, 270), nv21(&noise, 96, 64, 180)],
        1_000,
    );
    let verdict = run(&frames).expect("decides");
    assert_eq!(verdict.decision, ActiveDecision::TooFewFrames);
    assert!(verdict.frames.iter().all(|f| f.sight == FrameSight::NoFace), "{verdict:?}");
}

/// A small deterministic generator (xorshift64*), so that the "fuzz" sequence is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn sequence_bounds_random_sequences_decide_or_refuse() {
    let mut rng = Rng(0x005e_ed0f_face_c4ec);
    let (mut decided, mut refused) = (0, 0);
    for round in 0..24 {
        // Up to 6 frames: NV21 of a random (often wrong) size and length, random bytes, or a small grey PNG.
        let count = rng.below(7) as usize;
        let mut buffers: Vec<(Vec<u8>, u32, u32, i32, bool)> = Vec::new();
        for _ in 0..count {
            let (w, h) = (16 + 2 * rng.below(48) as u32, 16 + 2 * rng.below(48) as u32);
            let degrees = [0, 90, 180, 270][rng.below(4) as usize];
            let kind = rng.below(3);
            let mut len = (w * h * 3 / 2) as usize;
            if kind == 0 && rng.below(2) == 0 {
                len = rng.below(len as u64 * 2) as usize;
            }
            let bytes = match kind {
                2 => png(w, h),
                _ => (0..len).map(|_| rng.next() as u8).collect(),
            };
            buffers.push((bytes, w, h, degrees, kind == 0));
        }
        let frames: Vec<TimedFrame> = buffers
            .iter()
            .enumerate()
            .map(|(i, (bytes, w, h, degrees, is_nv21))| TimedFrame {
                data: if *is_nv21 { nv21(bytes, *w, *h, *degrees) } else { FrameData::Encoded(bytes) },
                time_ms: 40 * i as u64 + rng.below(3),
            })
            .collect();
        match run(&frames) {
            Ok(verdict) => {
                assert_ne!(verdict.decision, ActiveDecision::Live, "round {round}");
                assert_eq!(verdict.frames.len(), count);
                decided += 1;
            }
            Err(Error::Selfie { .. } | Error::FramesOutOfOrder { .. } | Error::CheckinFrameCount { .. }) => {
                refused += 1
            }
            Err(other) => panic!("round {round}: {other:?}"),
        }
    }
    assert!(decided > 0 && refused > 0, "{decided} decided, {refused} refused");
}
