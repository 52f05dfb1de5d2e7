//! The check-in with the active challenge (`checkin_active::check_in_active`) end to end, on real photos: enroll
//! Obama, turn as the nonce asks, verify the token with the fleet's verifier and read its `lvm`; the wrong order,
//! someone else's face, and the lock-out that failed active checks count toward. Named `checkin_active_*`: like
//! the other check-in policy tests they run on the host only (`scripts/test-bionic.sh`).

use facecheck::checkin::{self, Challenge, Clock, Outcome};
use facecheck::checkin_active::check_in_active;
use facecheck::vault::KEK_LEN;
use facecheck::{ActiveChallenge, ActiveDecision, Error, FrameData, Kek, LockOut, Pose, TimedFrame, Vault};
use facecheck_attest::{CounterState, Expectations, LivenessMethod, RegistrationExpectations, Registry};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

const DRIVER: &str = "driver-0042";
const FLEET: &str = "fleet-north";
const T0: u64 = 1_750_000_000;
const SKEW: u64 = 300;
/// Derives [left, right] (the challenge's test vector).
const NONCE: &str = "nonce-0";
const BLOCK: &str = "block-2025-06-15-am";

mod sequences;

use sequences::{engine, fixture, framed, obama};

fn timed(frames: &[Vec<u8>]) -> Vec<TimedFrame<'_>> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| TimedFrame { data: FrameData::Encoded(f), time_ms: 10_000 + 700 * i as u64 })
        .collect()
}

fn at(wall: u64) -> Clock {
    Clock::new(wall, Some((wall + 100).saturating_sub(T0)))
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("facecheck-active-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Enrolls the three Obama photos at `T0`; returns the vault and the fleet's registry.
fn enroll_obama(dir: &TempDir) -> (Vault, Registry) {
    let selfies: Vec<Vec<u8>> =
        ["obama.jpg", "obama1.jpg", "obama2.jpg"].iter().map(|n| std::fs::read(fixture(n)).expect("fixture")).collect();
    let kek = Kek::from_bytes(&[7; KEK_LEN]);
    let enrolled =
        checkin::enroll(engine(), dir.0.join("driver.vault"), &kek, DRIVER, FLEET, &selfies, at(T0)).expect("enrolls");
    let expected = RegistrationExpectations {
        fleet: FLEET,
        driver: Some(DRIVER),
        now_unix: T0 + 5,
        skew_secs: SKEW,
        max_age_secs: SKEW,
    };
    let registration =
        facecheck_attest::verify_registration(&enrolled.registration, &expected).expect("the statement verifies");
    let mut registry = Registry::new();
    registry.register(&registration).expect("registers");
    (enrolled.vault, registry)
}

fn verify(
    state: &mut CounterState,
    registry: &Registry,
    token: &str,
    now: u64,
) -> facecheck_attest::VerifiedAttestation {
    let expected =
        Expectations { fleet: FLEET, nonce: NONCE, driver: Some(DRIVER), block: None, now_unix: now, skew_secs: SKEW };
    state.verify_and_record(token, registry, &expected).expect("the fleet verifier accepts the token")
}

fn active(vault: &mut Vault, frames: &[Vec<u8>], now: u64) -> facecheck::ActiveCheckIn {
    let challenge = Challenge { nonce: NONCE, block: BLOCK };
    check_in_active(engine(), vault, &challenge, None, &timed(frames), at(now)).expect("checks in")
}

#[test]
fn checkin_active_live_sequence_matches_with_lvm_active_and_passive_says_passive() {
    assert_eq!(ActiveChallenge::from_nonce(NONCE).poses(), &[Pose::Left, Pose::Right]);
    let dir = TempDir::new("live");
    let (mut vault, registry) = enroll_obama(&dir);
    let mut state = CounterState::new();

    let result = active(&mut vault, &obama(), T0 + 60);
    assert_eq!(result.active, Some(ActiveDecision::Live), "{result:?}");
    assert_eq!(result.check_in.outcome, Outcome::Match, "{result:?}");
    let verified = verify(&mut state, &registry, &result.check_in.token, T0 + 60);
    assert_eq!(verified.claims().liveness_method, LivenessMethod::Active);
    assert!(verified.claims().liveness_passed);
    assert_eq!(verified.claims().outcome, Outcome::Match);

    // A passive check-in signs lvm "passive".
    let challenge = Challenge { nonce: NONCE, block: BLOCK };
    let selfie = std::fs::read(fixture("obama2.jpg")).expect("fixture");
    let passive = checkin::check_in(engine(), &mut vault, &challenge, &[selfie], at(T0 + 120)).expect("checks in");
    assert_eq!(passive.outcome, Outcome::Match);
    let verified = verify(&mut state, &registry, &passive.token, T0 + 120);
    assert_eq!(verified.claims().liveness_method, LivenessMethod::Passive);
}

#[test]
fn checkin_active_wrong_order_is_a_counted_spoof_and_the_lock_out_follows() {
    let dir = TempDir::new("order");
    let (mut vault, registry) = enroll_obama(&dir);
    let mut state = CounterState::new();
    let [f, l, r] = obama();
    let wrong = [f.clone(), r.clone(), l.clone()];

    let result = active(&mut vault, &wrong, T0 + 60);
    assert_eq!(result.active, Some(ActiveDecision::PoseNotReached), "{result:?}");
    assert_eq!(result.check_in.outcome, Outcome::SpoofSuspected);
    assert!(result.message().contains("turns asked for"), "{}", result.message());
    let verified = verify(&mut state, &registry, &result.check_in.token, T0 + 60);
    assert_eq!((verified.claims().liveness_method, verified.claims().liveness_passed), (LivenessMethod::Active, false));
    assert_eq!(verified.claims().attempts, 1);
    assert_eq!(vault.failures(), 1);

    // Failed active checks lock check-in like failed passive ones: no free tries.
    let mut now = T0 + 60;
    let mut locked = None;
    for attempt in 2..=checkin::SHORT_LOCKOUT_FAILURES {
        now += 10;
        let result = active(&mut vault, &wrong, now);
        assert_eq!(result.check_in.outcome, Outcome::SpoofSuspected, "attempt {attempt}");
        locked = result.check_in.lock_out;
    }
    assert!(matches!(locked, Some(LockOut::Until(_))), "{locked:?}");
    // Locked out: the right turns are not even looked at.
    let result = active(&mut vault, &[f, l, r], now + 10);
    assert_eq!((result.check_in.outcome, result.active), (Outcome::LockedOut, None));
    let verified = verify(&mut state, &registry, &result.check_in.token, now + 10);
    assert_eq!(verified.claims().liveness_method, LivenessMethod::Active);
}

#[test]
fn checkin_active_someone_else_does_not_match() {
    let dir = TempDir::new("other");
    let (mut vault, _) = enroll_obama(&dir);
    let [_, l, r] = obama();
    // Biden facing the camera, then Obama's turns: the turns are not the frontal face's person.
    let result = active(&mut vault, &[framed(&fixture("biden2.jpg")), l, r], T0 + 60);
    assert!(matches!(result.check_in.outcome, Outcome::NoMatch | Outcome::SpoofSuspected), "{result:?}");
    assert_ne!(result.check_in.outcome, Outcome::Match);
    assert_eq!(vault.failures(), 1);
}

#[test]
fn checkin_active_bad_input_signs_nothing() {
    let dir = TempDir::new("input");
    let (mut vault, _) = enroll_obama(&dir);
    let counter = vault.counter();
    let [f, l, r] = obama();
    let challenge = Challenge { nonce: NONCE, block: BLOCK };
    let run = |vault: &mut Vault, frames: &[TimedFrame<'_>], last: Option<u64>| {
        check_in_active(engine(), vault, &challenge, last, frames, at(T0 + 60))
    };
    assert!(matches!(run(&mut vault, &[], None), Err(Error::CheckinFrameCount { given: 0, .. })));
    let sequence = [f, l, r];
    let mut frames = timed(&sequence);
    frames[2].time_ms = frames[0].time_ms;
    assert!(matches!(run(&mut vault, &frames, None), Err(Error::FramesOutOfOrder { index: 3 })));
    let garbage = [b"garbage".to_vec()];
    let frames = timed(&garbage);
    assert!(matches!(run(&mut vault, &frames, Some(counter + 1)), Err(Error::VaultRolledBack { .. })));
    let bad = Challenge { nonce: "", block: BLOCK };
    let result = check_in_active(engine(), &mut vault, &bad, None, &frames, at(T0 + 60));
    assert!(matches!(result, Err(Error::InvalidChallenge(_))));
    assert_eq!((vault.counter(), vault.failures()), (counter, 0));
}
