//! The check-in policy end to end, on real photos: enroll, check in, verify with the fleet's verifier, replay,
//! lock-out, spoofs, erasure, enrolling again (with a new device key).

use facecheck::checkin::{self, Challenge, CheckIn, Clock, Outcome, ERASURE_NONCE, SHORT_LOCKOUT_SECS};
use facecheck::review::{review_request, ReviewSubject};
use facecheck::vault::KEK_LEN;
use facecheck::{Engine, Error, Kek, LockOut, QualityIssue, Vault};
use facecheck_attest::{
    statement_hash, verify_attestation, verify_erasure_receipt, verify_registration, verify_review, CounterState,
    ErasureExpectations, Expectations, RegistrationExpectations, Registry, ReviewExpectations, ReviewReason,
    VerifiedAttestation, VerifiedErasure, VerifyError, DEFAULT_ERASURE_MAX_AGE_SECS,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

const DRIVER: &str = "driver-0042";
const FLEET: &str = "fleet-north";
const T0: u64 = 1_750_000_000;
const SKEW: u64 = 300;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")).expect("the shipped models load")
    })
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixtures(names: &[&str]) -> Vec<Vec<u8>> {
    names.iter().map(|n| fixture(n)).collect()
}

/// obama2.jpg scaled down so that its face is narrower than the quality gates accept (whatever the shipped limit).
fn too_small() -> Vec<u8> {
    let face_width = 275.0; // YuNet's box on obama2.jpg
    let scale = 0.75 * facecheck::QualityLimits::SHIPPED.min_face_width / face_width;
    png(&fixture("obama2.jpg"), |i| {
        let (w, h) = ((i.width() as f32 * scale) as u32, (i.height() as f32 * scale) as u32);
        image::imageops::resize(&i, w, h, image::imageops::FilterType::Triangle)
    })
}

/// `bytes` re-encoded as PNG after `change`.
fn png(bytes: &[u8], change: impl FnOnce(image::RgbImage) -> image::RgbImage) -> Vec<u8> {
    let image = change(facecheck::decode_image(bytes).expect("decodes"));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encodes");
    out.into_inner()
}

/// A reading at wall-clock time `wall` on a phone that booted 100 s before [`T0`], its clocks agreeing since.
fn at(wall: u64) -> Clock {
    Clock::new(wall, Some((wall + 100).saturating_sub(T0)))
}

fn kek() -> Kek {
    Kek::from_bytes(&[7; KEK_LEN])
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("facecheck-checkin-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }

    fn vault(&self) -> PathBuf {
        self.0.join("driver.vault")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Enrolls the three Obama photos at `T0`; returns the vault and the fleet's registry built from the statement.
fn enroll_obama(dir: &TempDir) -> (Vault, Registry) {
    let selfies = fixtures(&["obama.jpg", "obama1.jpg", "obama2.jpg"]);
    let enrolled = checkin::enroll(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, at(T0)).expect("enrolls");
    (enrolled.vault, registry_of(&enrolled.registration))
}

fn registry_of(statement: &str) -> Registry {
    let mut registry = Registry::new();
    register(&mut registry, statement, T0 + 5);
    registry
}

/// Verifies a registration statement at `now` and adds its device to `registry`.
fn register(registry: &mut Registry, statement: &str, now: u64) {
    let expected = RegistrationExpectations {
        fleet: FLEET,
        driver: Some(DRIVER),
        now_unix: now,
        skew_secs: SKEW,
        max_age_secs: SKEW,
    };
    let registration = verify_registration(statement, &expected).expect("the registration statement verifies");
    registry.register(&registration).expect("registers");
}

fn expect<'a>(nonce: &'a str, now: u64) -> Expectations<'a> {
    Expectations { fleet: FLEET, nonce, driver: Some(DRIVER), block: None, now_unix: now, skew_secs: SKEW }
}

fn check_in(vault: &mut Vault, nonce: &str, frames: &[&str], now: u64) -> CheckIn {
    let challenge = Challenge { nonce, block: "block-2025-06-15-am" };
    checkin::check_in(engine(), vault, &challenge, &fixtures(frames), at(now)).expect("checks in")
}

fn verify(state: &mut CounterState, registry: &Registry, token: &str, nonce: &str, now: u64) -> VerifiedAttestation {
    state.verify_and_record(token, registry, &expect(nonce, now)).expect("the fleet verifier accepts the token")
}

/// Verifies an erasure receipt as the fleet does (by key, counter and age; never as a check-in) and records it.
fn verify_receipt(state: &mut CounterState, registry: &Registry, receipt: &str, now: u64) -> VerifiedErasure {
    assert!(matches!(
        verify_attestation(receipt, registry, &expect(ERASURE_NONCE, now), None),
        Err(VerifyError::NotACheckIn { .. })
    ));
    let expected = ErasureExpectations {
        fleet: FLEET,
        now_unix: now,
        max_age_secs: DEFAULT_ERASURE_MAX_AGE_SECS,
        skew_secs: SKEW,
    };
    let verified = verify_erasure_receipt(receipt, registry, &expected, None).expect("the fleet accepts the receipt");
    state.record_erasure(&verified).expect("the receipt's counter is above every check-in's");
    verified
}

#[test]
fn checkin_enroll_match_no_match_replay_lockout_erase() {
    let dir = TempDir::new("e2e");
    let (mut vault, registry) = enroll_obama(&dir);
    let mut state = CounterState::new();

    // Another photo of the enrolled driver. The fixtures hold three distinct photos of Obama, all used for
    // enrollment; this one is obama1.jpg rotated with an EXIF orientation tag, so it exercises the decoding and
    // re-runs the whole pipeline, but it is not an independent photo (see `a_photo_not_enrolled_matches`).
    let now = T0 + 60;
    let matched = check_in(&mut vault, "nonce-1", &["exif_orientation6.jpg"], now);
    assert_eq!((matched.outcome, matched.retake, matched.lock_out), (Outcome::Match, None, None));
    let verified = verify(&mut state, &registry, &matched.token, "nonce-1", now + 2);
    let claims = verified.claims();
    assert_eq!(verified.outcome(), Outcome::Match);
    assert_eq!((claims.driver.as_str(), claims.fleet.as_str()), (DRIVER, FLEET));
    assert_eq!((claims.block.as_str(), claims.issued_at), ("block-2025-06-15-am", now));
    assert!(claims.liveness_passed);
    assert_eq!(claims.attempts, 1);
    assert_eq!(claims.model_manifest.as_str(), facecheck::Manifest::digest());
    assert_eq!(claims.policy, checkin::policy_id());
    let threshold = facecheck::Manifest::shipped().models.embedder.match_threshold.distance;
    assert!(claims.policy.contains(&format!("/l2<{threshold}/fmr1e-3/")), "{}", claims.policy);
    assert_eq!(claims.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(claims.counter, vault.counter());

    // Replaying the first token against the recorded counters is refused.
    assert!(matches!(
        state.verify_and_record(&matched.token, &registry, &expect("nonce-1", now + 3)),
        Err(VerifyError::CounterNotIncreasing { .. })
    ));

    // Someone else: no_match, reported for review, and the first failed attempt.
    let now = T0 + 120;
    let other = check_in(&mut vault, "nonce-2", &["biden.jpg"], now);
    assert_eq!((other.outcome, other.lock_out), (Outcome::NoMatch, None));
    assert!(other.message().contains("review"), "{}", other.message());
    let verified = verify(&mut state, &registry, &other.token, "nonce-2", now);
    assert_eq!(verified.outcome(), Outcome::NoMatch);
    assert!(verified.claims().liveness_passed);
    assert_eq!(verified.claims().attempts, 1);

    // Four more failed attempts, paced a minute apart (the pace does not matter: failures count from the last
    // match): the fifth locks check-in out.
    let mut last = now;
    for (i, frame) in ["biden2.jpg", "biden.jpg", "image_F1.jpg", "biden2.jpg"].into_iter().enumerate() {
        last = now + 60 * (i as u64 + 1);
        let nonce = format!("nonce-fail-{i}");
        let result = check_in(&mut vault, &nonce, &[frame], last);
        let expected = if frame == "image_F1.jpg" { Outcome::SpoofSuspected } else { Outcome::NoMatch };
        assert_eq!(result.outcome, expected, "{frame}");
        let verified = verify(&mut state, &registry, &result.token, &nonce, last);
        assert_eq!(verified.claims().attempts, i as u32 + 2);
        if i < 3 {
            assert_eq!(result.lock_out, None);
        } else {
            assert_eq!(result.lock_out, Some(LockOut::Until(last + SHORT_LOCKOUT_SECS)));
            assert!(result.message().contains("1 minute"), "{}", result.message());
        }
    }

    // Locked out: even the enrolled driver gets `locked_out`, and nothing is examined.
    let locked = check_in(&mut vault, "nonce-locked", &["obama1.jpg"], last + 20);
    assert_eq!(
        (locked.outcome, locked.lock_out),
        (Outcome::LockedOut, Some(LockOut::Until(last + SHORT_LOCKOUT_SECS)))
    );
    let verified = verify(&mut state, &registry, &locked.token, "nonce-locked", last + 20);
    assert_eq!(verified.outcome(), Outcome::LockedOut);
    assert!(!verified.claims().liveness_passed);
    assert_eq!(verified.claims().attempts, 0);

    // The lock-out survives a restart, and setting the wall clock an hour ahead does not end it.
    drop(vault);
    let mut vault = Vault::open(dir.vault(), &kek(), at(last + 40)).expect("reopens");
    let status = checkin::status(&vault, at(last + 40)).expect("status");
    assert_eq!((status.lock_out, status.failures), (Some(LockOut::Until(last + SHORT_LOCKOUT_SECS)), 5));
    assert!(status.enrolled);
    let ahead = Clock::new(last + 3_600, at(last + 50).elapsed);
    let challenge = Challenge { nonce: "nonce-locked-2", block: "block-2025-06-15-am" };
    let locked = checkin::check_in(engine(), &mut vault, &challenge, &fixtures(&["obama1.jpg"]), ahead).expect("in");
    assert_eq!(locked.outcome, Outcome::LockedOut);
    assert_eq!(locked.lock_out, Some(LockOut::Until(last + 3_600 + SHORT_LOCKOUT_SECS - 50)));

    // Once the lock-out is served, the driver checks in again.
    let after = last + SHORT_LOCKOUT_SECS;
    let matched = check_in(&mut vault, "nonce-3", &["obama1.jpg"], after);
    assert_eq!(matched.outcome, Outcome::Match);
    // The sixth attempt since the last match (lock-outs and restarts do not reset the run; this match does).
    assert_eq!(verify(&mut state, &registry, &matched.token, "nonce-3", after).claims().attempts, 6);
    let status = checkin::status(&vault, at(after)).expect("status");
    assert_eq!((status.lock_out, status.last_checkin_at, status.failures), (None, Some(after), 0));
    assert_eq!(status.retention_deadline, Some(after + 365 * 86_400));

    // Erase: a signed receipt with the next counter, and no vault left.
    let counter = vault.counter();
    let receipt = checkin::erase(vault, None, at(after + 10)).expect("erases");
    let verified = verify_receipt(&mut state, &registry, &receipt, after + 10);
    assert_eq!(verified.claims().outcome, Outcome::Erased);
    assert_eq!(verified.counter(), counter + 1);
    assert!(matches!(Vault::open(dir.vault(), &kek(), at(after + 30)), Err(Error::VaultMissing)));
}

#[test]
fn checkin_erasure_is_final_a_restored_copy_neither_opens_nor_signs() {
    let dir = TempDir::new("erase-final");
    let old_kek = Kek::generate().expect("a key");
    let selfies = fixtures(&["obama.jpg", "obama1.jpg", "obama2.jpg"]);
    let enrolled = checkin::enroll(engine(), dir.vault(), &old_kek, DRIVER, FLEET, &selfies, at(T0)).expect("in");
    let (mut vault, registry) = (enrolled.vault, registry_of(&enrolled.registration));
    let mut state = CounterState::new();
    assert_eq!(check_in(&mut vault, "n1", &["exif_orientation6.jpg"], T0 + 10).outcome, Outcome::Match);
    // A copy of the vault file as it is before the erasure (a backup, or blocks the flash storage kept).
    let copy = std::fs::read(dir.vault()).expect("reads");

    let receipt = checkin::erase(vault, None, at(T0 + 20)).expect("erases");
    assert_eq!(verify_receipt(&mut state, &registry, &receipt, T0 + 20).claims().outcome, Outcome::Erased);
    assert!(!dir.vault().exists(), "the vault file, and the device key in it, are gone");
    // The caller deletes the key-encryption key, as `erase` requires; what it holds from now on is a new one.
    drop(old_kek);
    let new_kek = Kek::generate().expect("a key");

    // The copy put back opens with nothing the caller holds, so no check-in can be signed from it ...
    std::fs::write(dir.vault(), &copy).expect("restores the copy");
    assert!(matches!(Vault::open(dir.vault(), &new_kek, at(T0 + 30)), Err(Error::VaultUnreadable)));
    assert!(matches!(Vault::open(dir.vault(), &kek(), at(T0 + 30)), Err(Error::VaultUnreadable)));
    // ... nor enrolled over, and it is left as it was.
    let refused = checkin::enroll(engine(), dir.vault(), &new_kek, DRIVER, FLEET, &selfies, at(T0 + 40));
    assert!(matches!(refused, Err(Error::VaultUnreadable)), "{:?}", refused.map(|_| ()));
    assert_eq!(std::fs::read(dir.vault()).expect("reads"), copy);

    // Removed, a new enrollment under the new key makes a new device key the fleet has not registered.
    std::fs::remove_file(dir.vault()).expect("removes");
    let again = checkin::enroll(engine(), dir.vault(), &new_kek, DRIVER, FLEET, &selfies, at(T0 + 50)).expect("in");
    let mut vault = again.vault;
    let matched = check_in(&mut vault, "n2", &["exif_orientation6.jpg"], T0 + 60);
    let refused = state.verify_and_record(&matched.token, &registry, &expect("n2", T0 + 60));
    assert!(matches!(refused, Err(VerifyError::UnknownKey { .. })), "{refused:?}");
}

#[test]
fn checkin_a_retention_wipe_ends_as_an_erasure_with_a_receipt() {
    let dir = TempDir::new("retention-erasure");
    let (vault, registry) = enroll_obama(&dir);
    let mut state = CounterState::new();
    let counter = vault.counter();
    drop(vault);
    // A year and a day without a check-in: the template is wiped on opening.
    let late = T0 + 366 * 86_400;
    let mut vault = Vault::open(dir.vault(), &kek(), at(late)).expect("opens");
    let status = checkin::status(&vault, at(late)).expect("status");
    assert!(!status.enrolled && status.enrolled_at.is_none(), "{status:?}");
    let frames = fixtures(&["obama1.jpg"]);
    let challenge = Challenge { nonce: "n", block: "b" };
    let refused = checkin::check_in(engine(), &mut vault, &challenge, &frames, at(late));
    assert!(matches!(refused, Err(Error::VaultNotEnrolled)), "{refused:?}");
    drop(vault);
    // No new face under the same key-encryption key while the erasure is unfinished.
    let selfies = fixtures(&["obama.jpg", "obama1.jpg", "obama2.jpg"]);
    let refused = checkin::enroll(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, at(late + 1));
    assert!(matches!(refused, Err(Error::VaultErasureDue)), "{:?}", refused.map(|_| ()));
    // Erasing it signs the receipt the fleet accepts and destroys the vault.
    let vault = Vault::open(dir.vault(), &kek(), at(late + 2)).expect("opens");
    let receipt = checkin::erase(vault, None, at(late + 2)).expect("erases");
    let verified = verify_receipt(&mut state, &registry, &receipt, late + 2);
    assert_eq!((verified.claims().outcome, verified.counter()), (Outcome::Erased, counter + 1));
    assert!(!dir.vault().exists());
}

#[test]
fn checkin_an_impostor_gets_twenty_comparisons_then_only_a_new_enrollment_unlocks() {
    use facecheck::checkin::{FINAL_LOCKOUT_FAILURES, LONG_LOCKOUT_FAILURES, LONG_LOCKOUT_SECS};
    let dir = TempDir::new("final-lockout");
    let (mut vault, registry) = enroll_obama(&dir);
    let mut state = CounterState::new();
    // Someone else tries, waiting out every lock-out: each attempt is a comparison, numbered in the run.
    let mut now = T0 + 10;
    for attempt in 1..=FINAL_LOCKOUT_FAILURES {
        let nonce = format!("nonce-{attempt}");
        let result = check_in(&mut vault, &nonce, &["biden.jpg"], now);
        assert_eq!(result.outcome, Outcome::NoMatch, "attempt {attempt}");
        assert_eq!(verify(&mut state, &registry, &result.token, &nonce, now).claims().attempts, attempt);
        now = match result.lock_out {
            None => now + 1,
            Some(LockOut::Until(until)) => {
                let length = if attempt < LONG_LOCKOUT_FAILURES { SHORT_LOCKOUT_SECS } else { LONG_LOCKOUT_SECS };
                assert_eq!(until, now + length, "attempt {attempt}");
                until
            }
            Some(LockOut::UntilReenrolled) => {
                assert_eq!(attempt, FINAL_LOCKOUT_FAILURES);
                assert!(result.message().contains("enroll again"), "{}", result.message());
                now + 1
            }
        };
    }
    // From then on even the driver gets `locked_out` (nothing compared), weeks later and after a restart.
    let weeks = now + 30 * 86_400;
    drop(vault);
    let mut vault = Vault::open(dir.vault(), &kek(), at(weeks)).expect("reopens");
    let locked = check_in(&mut vault, "nonce-driver", &["obama1.jpg"], weeks);
    assert_eq!((locked.outcome, locked.lock_out), (Outcome::LockedOut, Some(LockOut::UntilReenrolled)));
    let verified = verify(&mut state, &registry, &locked.token, "nonce-driver", weeks);
    assert_eq!((verified.outcome(), verified.claims().attempts), (Outcome::LockedOut, 0));
    let status = checkin::status(&vault, at(weeks)).expect("status");
    assert_eq!((status.lock_out, status.failures), (Some(LockOut::UntilReenrolled), FINAL_LOCKOUT_FAILURES));

    // The way out: erase (a receipt for the fleet), then enroll under a new key-encryption key; the new device key
    // counts only once the fleet has registered it, from a new enrollment code.
    let receipt = checkin::erase(vault, None, at(weeks + 10)).expect("erases");
    verify_receipt(&mut state, &registry, &receipt, weeks + 10);
    let selfies = fixtures(&["obama.jpg", "obama1.jpg", "obama2.jpg"]);
    let new_kek = Kek::generate().expect("a key");
    let again = checkin::enroll(engine(), dir.vault(), &new_kek, DRIVER, FLEET, &selfies, at(weeks + 20)).expect("in");
    assert_eq!((again.vault.failures(), again.vault.lock_out(at(weeks + 20))), (0, None));
}

#[test]
fn checkin_enrolling_again_after_erasure_makes_a_new_device_key_the_fleet_must_register() {
    let dir = TempDir::new("enroll-again");
    let selfies = fixtures(&["obama.jpg", "obama1.jpg", "obama2.jpg"]);
    let first = checkin::enroll(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, at(T0)).expect("enrolls");
    let mut registry = registry_of(&first.registration);
    let mut vault = first.vault;
    let old_key = checkin::status(&vault, at(T0)).expect("status").device_key_id;
    let mut state = CounterState::new();

    // Enrolling over an enrolled vault is refused, and leaves it intact.
    drop(vault);
    let before = std::fs::read(dir.vault()).expect("reads");
    let kek = kek();
    let result = checkin::enroll(engine(), dir.vault(), &kek, DRIVER, FLEET, &selfies, at(T0 + 10));
    assert!(matches!(result, Err(Error::VaultAlreadyEnrolled)), "{result:?}");
    assert_eq!(std::fs::read(dir.vault()).expect("reads"), before);
    vault = Vault::open(dir.vault(), &kek, at(T0 + 10)).expect("reopens with the same key");
    assert!(checkin::status(&vault, at(T0 + 10)).expect("status").enrolled);

    let receipt = checkin::erase(vault, None, at(T0 + 20)).expect("erases");
    assert_eq!(verify_receipt(&mut state, &registry, &receipt, T0 + 20).claims().outcome, Outcome::Erased);
    // The erased vault's key-encryption key is deleted; the new enrollment gets a new one.
    drop(kek);
    let kek = Kek::generate().expect("a key");

    // A refused enrollment writes nothing.
    let inconsistent = fixtures(&["obama.jpg", "obama1.jpg", "biden.jpg"]);
    let result = checkin::enroll(engine(), dir.vault(), &kek, DRIVER, FLEET, &inconsistent, at(T0 + 30));
    assert!(matches!(result, Err(Error::EnrollmentInconsistent)), "{result:?}");
    assert!(!dir.vault().exists());

    // Enrolling after the erasure: a new device key and a new registration statement.
    let now = T0 + 40;
    let second = checkin::enroll(engine(), dir.vault(), &kek, DRIVER, FLEET, &selfies, at(now)).expect("enrolls again");
    assert_ne!(second.registration, first.registration);
    let mut vault = second.vault;
    let status = checkin::status(&vault, at(now)).expect("status");
    assert!(status.enrolled);
    assert_ne!(status.device_key_id, old_key, "a new enrollment must not keep the registered device key");
    assert_eq!(vault.counter(), 0);

    // The new key signs a match that the fleet's registry (which knows only the old key) does not accept ...
    let matched = check_in(&mut vault, "nonce-new", &["exif_orientation6.jpg"], now + 10);
    assert_eq!(matched.outcome, Outcome::Match);
    let refused = state.verify_and_record(&matched.token, &registry, &expect("nonce-new", now + 10));
    assert!(matches!(refused, Err(VerifyError::UnknownKey { .. })), "{refused:?}");
    // ... until the fleet registers the new statement.
    register(&mut registry, &second.registration, now + 10);
    let verified = verify(&mut state, &registry, &matched.token, "nonce-new", now + 10);
    assert_eq!(verified.outcome(), Outcome::Match);
    assert_eq!(verified.claims().driver, DRIVER);
}

#[test]
fn checkin_a_photo_not_enrolled_matches() {
    // The fixtures have three distinct photos of Obama and enrollment needs three selfies, so to check in with a
    // photo the template has never seen, enrollment here uses obama.jpg, obama2.jpg and obama2.jpg mirrored.
    let dir = TempDir::new("holdout");
    let obama2 = fixture("obama2.jpg");
    let selfies = vec![fixture("obama.jpg"), obama2.clone(), png(&obama2, |i| image::imageops::flip_horizontal(&i))];
    let enrolled = checkin::enroll(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, at(T0)).expect("enrolls");
    let (mut vault, registry) = (enrolled.vault, registry_of(&enrolled.registration));
    let result = check_in(&mut vault, "n", &["obama1.jpg"], T0 + 10);
    assert_eq!(result.outcome, Outcome::Match);
    let verified = verify_attestation(&result.token, &registry, &expect("n", T0 + 10), None).expect("verifies");
    assert_eq!(verified.outcome(), Outcome::Match);
}

#[test]
fn checkin_spoof_frames_are_spoof_suspected() {
    let dir = TempDir::new("spoof");
    let (mut vault, registry) = enroll_obama(&dir);
    for (i, frame) in ["image_F1.jpg", "image_F2.jpg"].into_iter().enumerate() {
        let now = T0 + 10 * (i as u64 + 1);
        let result = check_in(&mut vault, "n", &[frame], now);
        assert_eq!(result.outcome, Outcome::SpoofSuspected, "{frame}");
        assert!(result.message().contains("photo or a screen"), "{}", result.message());
        let verified = verify_attestation(&result.token, &registry, &expect("n", now), None).expect("verifies");
        assert_eq!(verified.outcome(), Outcome::SpoofSuspected);
        assert!(!verified.claims().liveness_passed);
    }
    assert_eq!(vault.failures(), 2, "spoofs are failed attempts");
}

#[test]
fn checkin_the_best_frame_is_judged_and_retakes_are_not_failures() {
    let dir = TempDir::new("frames");
    let (mut vault, registry) = enroll_obama(&dir);
    let blank = png(&fixture("obama.jpg"), |i| image::RgbImage::from_pixel(i.width(), i.height(), image::Rgb([90; 3])));
    let small = too_small();

    // A usable frame among unusable ones is the one judged.
    let frames = vec![blank.clone(), small.clone(), fixture("obama1.jpg")];
    let challenge = Challenge { nonce: "n1", block: "b" };
    let result = checkin::check_in(engine(), &mut vault, &challenge, &frames, at(T0 + 10)).expect("checks in");
    assert_eq!(result.outcome, Outcome::Match);

    // No usable frame: the issue of the frame that got furthest, and `no_face` only when no frame had a face.
    let challenge = Challenge { nonce: "n2", block: "b" };
    let result =
        checkin::check_in(engine(), &mut vault, &challenge, &[&blank, &small], at(T0 + 20)).expect("checks in");
    assert_eq!((result.outcome, result.retake), (Outcome::PoorQuality, Some(QualityIssue::FaceTooSmall)));
    assert!(result.message().contains(QualityIssue::FaceTooSmall.message()), "{}", result.message());
    let verified = verify_attestation(&result.token, &registry, &expect("n2", T0 + 20), None).expect("verifies");
    assert_eq!(verified.outcome(), Outcome::PoorQuality);
    let challenge = Challenge { nonce: "n3", block: "b" };
    let result = checkin::check_in(engine(), &mut vault, &challenge, &[&blank], at(T0 + 30)).expect("checks in");
    assert_eq!((result.outcome, result.retake), (Outcome::NoFace, Some(QualityIssue::NoFace)));
    assert_eq!(vault.failures(), 0, "retakes are not failed attempts");
}

#[test]
fn checkin_enrollment_refuses_bad_selfie_sets_and_writes_nothing() {
    let dir = TempDir::new("refused");
    let enroll_selfies = |selfies: Vec<Vec<u8>>| {
        checkin::enroll(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, at(T0)).map(|_| ()).unwrap_err()
    };
    let enroll = |names: &[&str]| enroll_selfies(fixtures(names));
    assert!(matches!(enroll(&["obama.jpg", "obama1.jpg"]), Error::EnrollmentSelfieCount { given: 2, min: 3, max: 5 }));
    assert!(matches!(enroll(&["obama.jpg"; 6]), Error::EnrollmentSelfieCount { given: 6, .. }));
    assert!(matches!(enroll(&["obama.jpg", "obama1.jpg", "biden.jpg"]), Error::EnrollmentInconsistent));
    assert!(matches!(
        enroll(&["obama.jpg", "image_F2.jpg", "obama1.jpg"]),
        Error::EnrollmentSpoofSuspected { selfie: 2 }
    ));
    assert!(matches!(
        enroll_selfies(vec![fixture("obama.jpg"), fixture("obama1.jpg"), too_small()]),
        Error::EnrollmentRetake { selfie: 3, issue: QualityIssue::FaceTooSmall }
    ));
    let err = enroll(&["text.jpg", "obama.jpg", "obama1.jpg"]);
    assert!(matches!(&err, Error::Selfie { index: 1, source } if matches!(**source, Error::InvalidImage(_))), "{err}");
    assert!(!dir.vault().exists(), "a refused enrollment writes no vault");

    // An enrolled vault is never replaced.
    let (vault, _) = enroll_obama(&dir);
    drop(vault);
    let before = std::fs::read(dir.vault()).expect("reads");
    assert!(matches!(enroll(&["obama.jpg", "obama1.jpg", "obama2.jpg"]), Error::VaultAlreadyEnrolled));
    assert_eq!(std::fs::read(dir.vault()).expect("reads"), before);
    // Nor is a file at the path that does not open as a vault.
    std::fs::write(dir.vault(), b"not a vault").expect("writes");
    assert!(matches!(enroll(&["obama.jpg", "obama1.jpg", "obama2.jpg"]), Error::VaultCorrupt(_)));
    assert_eq!(std::fs::read(dir.vault()).expect("reads"), b"not a vault");
}

#[test]
fn checkin_check_in_refuses_bad_requests_without_signing() {
    let dir = TempDir::new("requests");
    let (mut vault, _) = enroll_obama(&dir);
    let frames = fixtures(&["obama1.jpg"]);
    let mut run = |nonce: &str, block: &str, frames: &[Vec<u8>]| {
        let challenge = Challenge { nonce, block };
        checkin::check_in(engine(), &mut vault, &challenge, frames, at(T0 + 10)).map(|_| ()).unwrap_err()
    };
    assert!(matches!(run("", "b", &frames), Error::InvalidChallenge(_)));
    assert!(matches!(run("n", &"b".repeat(257), &frames), Error::InvalidChallenge(_)));
    assert!(matches!(run("n", "b", &[]), Error::CheckinFrameCount { given: 0, .. }));
    assert!(matches!(run("n", "b", &vec![frames[0].clone(); 9]), Error::CheckinFrameCount { given: 9, max: 8 }));
    let err = run("n", "b", &fixtures(&["obama1.jpg", "truncated.jpg"]));
    assert!(matches!(&err, Error::Selfie { index: 2, .. }), "{err}");
    assert_eq!(vault.counter(), 0, "nothing was signed");
}

#[test]
fn checkin_results_carry_no_scores() {
    let dir = TempDir::new("no-scores");
    let (mut vault, _) = enroll_obama(&dir);
    let result = check_in(&mut vault, "n", &["biden.jpg"], T0 + 10);
    // The payload holds exactly the 13 claims (the verifier refuses any other), and no number but iat, ctr, att.
    let payload = result.token.split('.').nth(1).expect("three segments");
    let payload = base64_url_decode(payload);
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&payload).expect("JSON");
    let numbers: Vec<&str> = claims.iter().filter(|(_, v)| v.is_number()).map(|(k, _)| k.as_str()).collect();
    assert_eq!(numbers, ["att", "ctr", "iat"]);
    assert!(!result.message().contains("0."), "{}", result.message());
}

/// Unpadded base64url, enough for a test.
fn base64_url_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url"),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn checkin_enrollment_records_code_and_consent_and_a_rolled_back_vault_signs_nothing() {
    use facecheck::checkin::EnrollmentContext;
    use facecheck_attest::{CodeBinding, Consent};
    let dir = TempDir::new("context");
    let selfies = fixtures(&["obama.jpg", "obama1.jpg", "obama2.jpg"]);
    let bad = EnrollmentContext { code: None, consent: Some(Consent { notice: String::new(), accepted_at: T0 }) };
    let refused = checkin::enroll_with(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, &bad, at(T0));
    assert!(matches!(refused.map(|_| ()), Err(Error::VaultInvalidInput(_))));
    assert!(!dir.vault().exists(), "a refused enrollment writes nothing");

    let context = EnrollmentContext {
        code: Some(CodeBinding::of_code("ABCD-EFGH-JKMN")),
        consent: Some(Consent { notice: "facecheck-consent-v2".into(), accepted_at: T0 - 3 }),
    };
    let enrolled = checkin::enroll_with(engine(), dir.vault(), &kek(), DRIVER, FLEET, &selfies, &context, at(T0))
        .expect("enrolls");
    let expected = RegistrationExpectations {
        fleet: FLEET,
        driver: Some(DRIVER),
        now_unix: T0,
        skew_secs: SKEW,
        max_age_secs: SKEW,
    };
    let verified = verify_registration(&enrolled.registration, &expected).expect("verifies");
    assert_eq!(verified.claims().enrollment_code, context.code);
    assert_eq!(verified.claims().consent, context.consent);
    // Signed again, the statement carries what it is given, and nothing when given nothing.
    let again = checkin::registration_statement_with(&enrolled.vault, &context, T0 + 1).expect("signs");
    assert_eq!(verify_registration(&again, &expected).expect("verifies").claims().consent, context.consent);
    let plain = checkin::registration_statement(&enrolled.vault, T0 + 1).expect("signs");
    let plain = verify_registration(&plain, &expected).expect("verifies");
    assert_eq!((plain.claims().enrollment_code.as_ref(), plain.claims().consent.as_ref()), (None, None));

    // Anti-rollback: the fleet has seen counter 2 from this key, the vault (a restored copy) only 1.
    let mut vault = enrolled.vault;
    let challenge = Challenge { nonce: "n1", block: "b" };
    let frames = fixtures(&["obama1.jpg"]);
    let first = checkin::check_in_with(engine(), &mut vault, &challenge, Some(0), &frames, at(T0 + 10)).expect("in");
    assert_eq!(first.outcome, Outcome::Match);
    assert_eq!(vault.counter(), 1);
    let challenge = Challenge { nonce: "n2", block: "b" };
    let result = checkin::check_in_with(engine(), &mut vault, &challenge, Some(2), &frames, at(T0 + 20));
    match result {
        Err(e @ Error::VaultRolledBack { vault_counter: 1, fleet_counter: 2 }) => {
            assert!(e.to_string().contains("restored from a backup"), "{e}")
        }
        other => panic!("expected VaultRolledBack, got {other:?}"),
    }
    assert_eq!(vault.counter(), 1, "nothing was reserved or signed");
    let status = checkin::status(&vault, at(T0 + 20)).expect("status");
    assert_eq!(status.failures, 0);
    // At the fleet's counter, the next one signed is above it.
    let ok = checkin::check_in_with(engine(), &mut vault, &challenge, Some(1), &frames, at(T0 + 30)).expect("in");
    let registry = registry_of(&checkin::registration_statement(&vault, T0).expect("signs"));
    let verified = verify_attestation(&ok.token, &registry, &expect("n2", T0 + 30), Some(1)).expect("verifies");
    assert_eq!(verified.claims().counter, 2);
}

#[test]
fn checkin_review_request_is_signed_by_the_device_key_and_names_the_checkin_by_hash() {
    let dir = TempDir::new("review");
    let (mut vault, registry) = enroll_obama(&dir);
    let result = check_in(&mut vault, "nonce-review", &["biden.jpg"], T0 + 60);
    assert_eq!(result.outcome, Outcome::NoMatch);
    let expected = ReviewExpectations { fleet: FLEET, now_unix: T0 + 70, max_age_secs: 30 * 86_400, skew_secs: SKEW };

    let request =
        review_request(&vault, ReviewSubject::CheckIn(&result.token), ReviewReason::NoMatch, T0 + 65).expect("signs");
    let verified = verify_review(&request, &registry, &expected).expect("the fleet verifies the request");
    let claims = verified.claims();
    assert_eq!((claims.driver.as_str(), claims.fleet.as_str()), (DRIVER, FLEET));
    assert_eq!(claims.about, statement_hash(&result.token), "the request names the check-in by its hash");
    assert_eq!((claims.reason, claims.issued_at), (ReviewReason::NoMatch, T0 + 65));
    assert!(!request.contains(&result.token), "the request carries the token's hash, not the token");

    // Each request has its own id: a second request is a second review, the same bytes again are the same one.
    let other = review_request(&vault, ReviewSubject::Nothing, ReviewReason::Other, T0 + 66).expect("signs");
    let other = verify_review(&other, &registry, &expected).expect("verifies");
    assert_eq!(other.claims().about, "");
    assert_ne!(other.claims().request_id, claims.request_id);

    assert!(matches!(
        review_request(&vault, ReviewSubject::CheckIn("not a token"), ReviewReason::NoMatch, T0 + 67),
        Err(Error::VaultInvalidInput(_))
    ));
}
