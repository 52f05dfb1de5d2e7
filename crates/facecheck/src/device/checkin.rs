//! The check-in policy: enrollment, check-in, erasure and status, on top of the [`Engine`] and the [`Vault`].
//!
//! This is where a selfie becomes a signed statement. Everything the fleet sees is a JWS made by
//! [`facecheck_attest::DeviceKey`]: a registration statement at enrollment, an attestation per check-in, a receipt per
//! erasure. None of them, and nothing this module returns, logs or puts in an error, carries a score, a distance,
//! an embedding or image data.
//!
//! # Enrollment
//! [`enroll`] takes [`MIN_ENROLLMENT_SELFIES`] to [`MAX_ENROLLMENT_SELFIES`] selfies. Each must pass the quality
//! gates and the liveness check ([`Engine::screen_image`]); any that does not fails the enrollment with the reason
//! ([`Error::EnrollmentRetake`], [`Error::EnrollmentSpoofSuspected`]), and so does a set of selfies of which two do
//! not match each other ([`Error::EnrollmentInconsistent`]): a template must not be able to stand for two people.
//! The vault is then created with a freshly generated device key, and the device registration statement returned.
//! [`enroll_with`] also records in the statement the fleet's enrollment code (its binding, `enc`) and the driver's
//! consent (`cns`), given as an [`EnrollmentContext`]; the fleet service refuses a statement without them. The vault
//! does not keep them: a statement signed again ([`registration_statement_with`]) is given them again.
//!
//! Every enrollment makes a new device key in a new vault: there is no enrolling a face under a key the fleet
//! already registered. The fleet trusts a key
//! for the face enrolled when it registered (and approved) that key; if a new face could be put under the same key,
//! anyone holding the unlocked phone after an erasure could enroll their own face and sign valid `match`
//! attestations for the driver without the fleet ever seeing it. With a new key, nothing the new face signs
//! verifies until the fleet has registered the new statement.
//!
//! # The template, and what it does to the false-match rate
//! The vault stores every enrollment embedding, and a check-in compares the probe with their **normalised mean**
//! (one comparison), not with each of them.
//! - *Best of the templates* would take the smallest of `t` distances: an impostor matches if he falls under the
//!   threshold for any of them, so the false-match rate of the pair threshold (chosen for 1e-3) grows by up to `t`
//!   times, 5e-3 for five selfies, per attempt.
//! - *The mean* is one comparison per attempt. Averaging the selfies cancels much of their pose, light and
//!   expression noise, which brings genuine distances down (fewer false rejections), while an impostor's distance
//!   to the mean stays about his average distance to the selfies, slightly shortened because the mean of unit
//!   vectors is shorter than one before it is normalised. That shortening is small only when the selfies agree,
//!   which the enrollment consistency check enforces. The threshold itself was chosen on pairs of single photos
//!   (and is provisional, see `models/manifest.json`); its false-match rate against mean templates has still to be
//!   measured on people with several photos (LFW), and the policy id ([`policy_id`]) names the rule so that a
//!   fleet can tell decisions taken under different rules apart.
//! - Keeping the individual embeddings (rather than only their mean) lets a later policy change the rule without
//!   asking every driver to enroll again.
//!
//! Across attempts, the lock-out bounds what an impostor gets from one enrollment: failures count from the last
//! `match`, from the [`SHORT_LOCKOUT_FAILURES`]th each one locks check-in ([`SHORT_LOCKOUT_SECS`], then
//! [`LONG_LOCKOUT_SECS`] from the [`LONG_LOCKOUT_FAILURES`]th), and the [`FINAL_LOCKOUT_FAILURES`]th locks it until a
//! new enrollment, which the fleet has to approve: at most twenty comparisons between two matches, the last ten at
//! least half an hour apart, served in time that no change of the wall clock shortens (`vault/lockout.rs`).
//!
//! # Check-in
//! [`check_in`] takes the server's [`Challenge`], the time and 1 to [`MAX_FRAMES`] frames:
//! 1. not enrolled (never, erased, or past the retention period): [`Error::VaultNotEnrolled`], nothing signed;
//! 2. locked out: `locked_out` is signed without looking at the frames;
//! 3. the best frame is picked: of the frames that pass the quality gates, the one whose face the detector is the
//!    most confident of, then the sharpest, then the earliest. Only that frame goes through the liveness check and
//!    matching, so several frames give an attacker no more liveness or matching tries than one. With a single
//!    frame there is nothing to pick. When no frame passes, the outcome is `no_face` if none had a face, and
//!    otherwise `poor_quality` with the issue of the frame that got furthest through the gates;
//! 4. the picked frame is screened ([`Engine::screen_image`]): `poor_quality`/`no_face`, `spoof_suspected`, or on
//!    to alignment, embedding and the comparison with the template: `match` or `no_match`;
//! 5. the vault records the result: `match` is a success (the failed attempts no longer count, the retention period
//!    restarts); `no_match` and `spoof_suspected` are failed attempts, which lock check-in on the schedule above.
//!    `no_face` and `poor_quality` are retakes, not failures: they compare nothing, so they teach an attacker
//!    nothing and should not lock out a driver standing in bad light;
//! 6. the counter is advanced and persisted ([`Vault::next_counter`]), then the attestation signed with it.
//!
//! Anti-rollback: [`check_in_with`] takes the fleet's `last_counter` from the challenge (the highest counter the
//! fleet accepted from this key) and refuses to sign at or below it. The vault's counter is the last value it
//! handed out and a check-in signs the next one, so it refuses when the vault's counter is *below* the fleet's: the
//! vault is then older than what the fleet has seen (a backup restored, a copy), nothing is examined, recorded or
//! signed, and the check-in fails with [`Error::VaultRolledBack`]. At the fleet's counter (every value the vault
//! handed out reached the fleet) or above it (some never did), the value signed is above the fleet's. The fleet's
//! counter is not kept in the vault: a restored copy would bring back the older value with it. What this cannot
//! see is a copy restored while the fleet had seen nothing newer (for instance a copy taken before attempts that
//! were never sent); the fleet's own attempt limit and its counter-gap reviews are what remains then.
//!
//! A `no_match` (or `spoof_suspected`) is reported as such, for a person to review; this library never
//! deactivates anyone.
//!
//! # Erasure
//! [`erase`] is final: it signs the receipt with the device key and a counter reserved in the same durable write
//! that wiped the template, then destroys the vault file, the device key's only copy, and returns the receipt (a
//! string the caller keeps until the fleet has it). The caller then deletes the key-encryption key that sealed the
//! vault (the app: the wrapped key and its Keystore alias; the CLI replaces the key file with a new key), so no
//! earlier copy of the vault opens with anything the device still holds, and nothing signs under the old key
//! again. A new enrollment makes a new vault with a new key-encryption key and a new device key, which the fleet
//! has to register from a new enrollment code: erasing is also the only way out of the last lock-out, and it
//! needs the fleet.
//!
//! The retention rule ends the same way: its wipe leaves a vault without a template, which [`enroll`] refuses
//! ([`Error::VaultErasureDue`]) and [`erase`] finishes with a receipt like any erasure (the fleet learns that the
//! key is retired). [`Status::enrolled`] is false for such a vault.
//!
//! The claims: `sub`/`aud` from the vault, `blk`/`nonce` from the challenge, `iat` = `now`, `ctr` from the vault,
//! `res` the outcome, `live` whether the picked frame passed the liveness check, `att` the attempt's number in the
//! current run of failed attempts (1 + the failed attempts since the last match; 0 for `locked_out`, which
//! examines no frame), `mdl` = [`Manifest::digest`], `pol` = [`policy_id`], `ver` = this crate's version.

use crate::device::vault::{Kek, LockOut, Vault, VaultInit};
use crate::pipeline::decode::decode_image;
use crate::pipeline::embed::Embedding;
use crate::pipeline::engine::{Engine, Probe};
use crate::pipeline::model::Manifest;
use crate::pipeline::quality::{self, QualityIssue, QualityLimits};
use crate::{Error, Result};
use facecheck_attest::{Claims, CodeBinding, Consent, DeviceKey, ManifestDigest, RegistrationClaims};
use image::RgbImage;
use ring::rand::SystemRandom;
use std::path::Path;

pub use crate::device::clock::Clock;
pub use crate::device::vault::{
    FINAL_LOCKOUT_FAILURES, LONG_LOCKOUT_FAILURES, LONG_LOCKOUT_SECS, SHORT_LOCKOUT_FAILURES, SHORT_LOCKOUT_SECS,
};
pub use facecheck_attest::Outcome;

/// Fewest selfies an enrollment takes.
pub const MIN_ENROLLMENT_SELFIES: usize = 3;
/// Most selfies an enrollment takes.
pub const MAX_ENROLLMENT_SELFIES: usize = 5;
/// Most frames one check-in examines.
pub const MAX_FRAMES: usize = 8;
/// Longest nonce or block id accepted, in bytes (keeps every token well under the verifier's size limit).
pub const MAX_CHALLENGE_LEN: usize = 256;
/// The `nonce` and `blk` of an erasure receipt signed without a server challenge (see [`erase`]).
pub const ERASURE_NONCE: &str = "erasure";

/// The server's challenge for one check-in, copied into the attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The server's nonce for this check-in (`nonce`), 1 to [`MAX_CHALLENGE_LEN`] bytes.
    pub nonce: &'a str,
    /// The block or shift being checked into (`blk`), 1 to [`MAX_CHALLENGE_LEN`] bytes.
    pub block: &'a str,
}

impl Challenge<'_> {
    pub(crate) fn check(&self) -> Result<()> {
        let fits = |s: &str| (1..=MAX_CHALLENGE_LEN).contains(&s.len());
        if !fits(self.nonce) {
            return Err(Error::InvalidChallenge("the nonce must be 1 to 256 bytes"));
        }
        if !fits(self.block) {
            return Err(Error::InvalidChallenge("the block id must be 1 to 256 bytes"));
        }
        Ok(())
    }
}

/// What an enrollment records in the registration statement besides the key, the driver and the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrollmentContext {
    /// The binding of the fleet's enrollment code (`enc`), `CodeBinding::of_code(code)`.
    pub code: Option<CodeBinding>,
    /// The consent the driver gave (`cns`): the notice version shown and when it was accepted.
    pub consent: Option<Consent>,
}

impl EnrollmentContext {
    fn check(&self) -> Result<()> {
        let notice_fits = |c: &Consent| {
            (1..=facecheck_attest::statements::registration::MAX_NOTICE_VERSION_LEN).contains(&c.notice.len())
                && c.notice.bytes().all(|b| b.is_ascii_graphic())
        };
        if !self.consent.as_ref().is_none_or(notice_fits) {
            return Err(Error::VaultInvalidInput("the consent notice version must be 1 to 64 printable characters"));
        }
        Ok(())
    }
}

/// A new enrollment: the open vault and the device registration statement for the fleet.
#[derive(Debug)]
pub struct Enrolled {
    /// The vault, created and open (its lock held until it is dropped).
    pub vault: Vault,
    /// The device registration statement: a compact JWS with the device public key as `jwk` in its protected
    /// header, signed by that key, for the fleet's registry (`facecheck_attest::verify_registration`).
    pub registration: String,
}

/// What one check-in produced: the attestation to upload and what to tell the driver. No score, distance,
/// embedding or image data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    /// The signed attestation (compact JWS) for the server.
    pub token: String,
    /// The decision, as signed (`res`).
    pub outcome: Outcome,
    /// For `poor_quality` and `no_face`: what to fix before retaking the selfie.
    pub retake: Option<QualityIssue>,
    /// When check-in is locked out (by this attempt, or already before it): until when.
    pub lock_out: Option<LockOut>,
    /// When the attestation was signed (`iat`), unix seconds.
    pub issued_at: u64,
}

impl CheckIn {
    /// A sentence for the driver, in English.
    pub fn message(&self) -> String {
        let mut text = match self.outcome {
            Outcome::Match => "Checked in: the selfie matches the enrolled driver.".to_owned(),
            Outcome::NoMatch => "Not checked in: the selfie does not match the enrolled driver. The attempt is \
                                 reported for review by a person; nothing is changed automatically."
                .to_owned(),
            Outcome::SpoofSuspected => "Not checked in: the selfie looks like a photo or a screen rather than a live \
                                        face. The attempt is reported for review by a person."
                .to_owned(),
            Outcome::NoFace | Outcome::PoorQuality => {
                let advice = self.retake.map_or("", |issue| issue.message());
                format!("Please retake the selfie. {advice}").trim_end().to_owned()
            }
            Outcome::LockedOut => "Check-in is locked.".to_owned(),
            Outcome::Erased => "The enrolled face was erased.".to_owned(),
        };
        match self.lock_out {
            Some(LockOut::Until(until)) => {
                let minutes = until.saturating_sub(self.issued_at).div_ceil(60);
                text.push_str(&format!(" Too many failed attempts: try again in {minutes} minute(s)."));
            }
            Some(LockOut::UntilReenrolled) => text.push_str(
                " Too many failed attempts: check-in stays locked until you enroll again with a new code from your \
                 fleet.",
            ),
            None => {}
        }
        text
    }
}

/// The state of a vault, for the app's settings screen and for `facecheck status`. No biometric data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The fleet's opaque driver id.
    pub driver_id: String,
    /// The fleet id.
    pub fleet_id: String,
    /// The device key id (`kid`), as registered with the fleet.
    pub device_key_id: String,
    /// Whether a template is enrolled at the time asked about. False once the retention period has passed: the
    /// vault is then waiting for [`erase`] to finish the erasure.
    pub enrolled: bool,
    /// When the template was enrolled, unix seconds.
    pub enrolled_at: Option<u64>,
    /// When the last successful check-in happened, unix seconds.
    pub last_checkin_at: Option<u64>,
    /// The lock-out in force, if check-in is locked out.
    pub lock_out: Option<LockOut>,
    /// Failed attempts since the last match.
    pub failures: u32,
    /// The retention period, in days.
    pub retention_days: u32,
    /// When the template is wiped unless the driver checks in before, unix seconds.
    pub retention_deadline: Option<u64>,
    /// The last counter value signed or reserved.
    pub counter: u64,
}

/// The outcome of the pipeline on one check-in, before it is recorded and signed.
pub(crate) struct Verdict {
    pub(crate) outcome: Outcome,
    pub(crate) live: bool,
    pub(crate) retake: Option<QualityIssue>,
}

impl Verdict {
    fn retake(issue: QualityIssue) -> Verdict {
        let outcome = if issue == QualityIssue::NoFace { Outcome::NoFace } else { Outcome::PoorQuality };
        Verdict { outcome, live: false, retake: Some(issue) }
    }
}

/// Enrolls a driver: screens the selfies, builds the template, creates the vault at `path` sealed with `kek` and
/// holding a new device key, and returns it with the device registration statement, which the fleet has to register
/// (and approve) before anything the new key signs verifies.
///
/// There must be no vault at `path`: after an [`erase`] there is none, and `kek` is the new key-encryption key
/// that replaced the erased vault's. So a new face always comes with a new device key (its counter starting at 0),
/// which the fleet's entry for the old key verifies nothing of: a new face needs the fleet's approval of a new
/// registration. This is why there is no way to enroll again under an existing key.
///
/// Errors: [`Error::VaultAlreadyEnrolled`] if the vault at `path` holds a template (erase it first),
/// [`Error::VaultErasureDue`] if it holds none (the retention rule wiped it: [`erase`] it first); the errors of
/// [`Vault::open`] for a vault at `path` that does not open (wrong key, corrupt, busy, ...); then
/// [`Error::EnrollmentSelfieCount`], [`Error::Selfie`] (unreadable image), [`Error::EnrollmentRetake`],
/// [`Error::EnrollmentSpoofSuspected`], [`Error::EnrollmentInconsistent`]; the vault's own errors (including
/// [`Error::VaultExists`] if something appears at `path` meanwhile). Nothing is written unless every selfie is
/// accepted, and `kek` stays the caller's either way.
pub fn enroll(
    engine: &Engine,
    path: impl AsRef<Path>,
    kek: &Kek,
    driver_id: &str,
    fleet_id: &str,
    selfies: &[impl AsRef<[u8]>],
    now: Clock,
) -> Result<Enrolled> {
    enroll_with(engine, path, kek, driver_id, fleet_id, selfies, &EnrollmentContext::default(), now)
}

/// [`enroll`], with the enrollment code binding and the consent record signed into the registration statement.
/// Also [`Error::VaultInvalidInput`] for a consent notice version that is empty, too long or not printable ASCII.
#[allow(clippy::too_many_arguments)]
pub fn enroll_with(
    engine: &Engine,
    path: impl AsRef<Path>,
    kek: &Kek,
    driver_id: &str,
    fleet_id: &str,
    selfies: &[impl AsRef<[u8]>],
    context: &EnrollmentContext,
    now: Clock,
) -> Result<Enrolled> {
    context.check()?;
    let path = path.as_ref();
    match Vault::open(path, kek, now) {
        Ok(vault) if is_enrolled_at(&vault, now.wall) => return Err(Error::VaultAlreadyEnrolled),
        Ok(_) => return Err(Error::VaultErasureDue),
        Err(Error::VaultMissing) => {}
        Err(e) => return Err(e),
    }
    let templates = build_template(engine, selfies)?;
    let (_, pkcs8) = DeviceKey::generate(&SystemRandom::new())
        .map_err(|_| Error::VaultCrypto("the random number generator failed"))?;
    let init = VaultInit {
        driver_id: driver_id.to_owned(),
        fleet_id: fleet_id.to_owned(),
        signing_key_pkcs8: pkcs8,
        templates,
    };
    let vault = Vault::create(path, kek, init, now)?;
    let registration = registration_statement_with(&vault, context, now.wall)?;
    Ok(Enrolled { vault, registration })
}

/// The device registration statement of `vault`'s key for its driver and fleet, dated `now` (unix seconds). [`enroll`] returns
/// one; this signs another for the same key (for instance if the first was lost).
pub fn registration_statement(vault: &Vault, now: u64) -> Result<String> {
    registration_statement_with(vault, &EnrollmentContext::default(), now)
}

/// [`registration_statement`], with the enrollment code binding and the consent record of `context`.
pub fn registration_statement_with(vault: &Vault, context: &EnrollmentContext, now: u64) -> Result<String> {
    context.check()?;
    let claims = RegistrationClaims {
        driver: vault.driver_id().to_owned(),
        fleet: vault.fleet_id().to_owned(),
        model_manifest: model_digest(),
        issued_at: now,
        enrollment_code: context.code.clone(),
        consent: context.consent.clone(),
    };
    Ok(device_key(vault)?.sign_registration(&claims))
}

/// Runs one check-in (see the [module documentation](self) for every step) and returns the signed attestation
/// with what to tell the driver.
///
/// Errors (nothing is signed): [`Error::InvalidChallenge`], [`Error::CheckinFrameCount`],
/// [`Error::VaultNotEnrolled`], [`Error::Selfie`] for a frame that is not a readable image, model and vault errors.
pub fn check_in(
    engine: &Engine,
    vault: &mut Vault,
    challenge: &Challenge<'_>,
    frames: &[impl AsRef<[u8]>],
    now: Clock,
) -> Result<CheckIn> {
    check_in_with(engine, vault, challenge, None, frames, now)
}

/// [`check_in`], given the fleet's `last_counter` for this key (from its challenge): if the vault's counter is
/// below it, the vault was restored from an older copy and the check-in fails with [`Error::VaultRolledBack`]
/// before anything is examined, recorded or signed; otherwise the counter signed is above the fleet's.
pub fn check_in_with(
    engine: &Engine,
    vault: &mut Vault,
    challenge: &Challenge<'_>,
    fleet_last_counter: Option<u64>,
    frames: &[impl AsRef<[u8]>],
    now: Clock,
) -> Result<CheckIn> {
    challenge.check()?;
    if frames.is_empty() || frames.len() > MAX_FRAMES {
        return Err(Error::CheckinFrameCount { given: frames.len(), max: MAX_FRAMES });
    }
    if !is_enrolled_at(vault, now.wall) {
        return Err(Error::VaultNotEnrolled);
    }
    // The counter signed is the next one: it is at or below the fleet's exactly when the vault's is below it.
    if let Some(fleet_counter) = fleet_last_counter.filter(|&fleet| vault.counter() < fleet) {
        return Err(Error::VaultRolledBack { vault_counter: vault.counter(), fleet_counter });
    }
    let key = device_key(vault)?;
    let (verdict, attempts, lock_out) = match vault.lock_out(now) {
        Some(lock_out) => (Verdict { outcome: Outcome::LockedOut, live: false, retake: None }, 0, Some(lock_out)),
        None => {
            let attempts = vault.failures().saturating_add(1);
            let verdict = decide(engine, vault, frames, now)?;
            let lock_out = match verdict.outcome {
                Outcome::Match => {
                    vault.record_success(now)?;
                    None
                }
                Outcome::NoMatch | Outcome::SpoofSuspected => vault.record_failure(now)?,
                _ => None,
            };
            (verdict, attempts, lock_out)
        }
    };
    let counter = vault.next_counter()?;
    let claims = claims(vault.driver_id(), vault.fleet_id(), challenge, now.wall, counter, &verdict, attempts);
    Ok(CheckIn {
        token: key.sign(&claims),
        outcome: verdict.outcome,
        retake: verdict.retake,
        lock_out,
        issued_at: now.wall,
    })
}

/// Erases the vault for good and returns the signed erasure receipt (`res: "erased"`), for the caller to keep until
/// the fleet has it; see "Erasure" in the [module documentation](self). A vault with no template (wiped by the
/// retention rule, or an erasure interrupted before the file was destroyed) gets a receipt too: either way none is
/// left.
///
/// The receipt carries the challenge if the server sent one, and otherwise [`ERASURE_NONCE`] as both `nonce` and
/// `blk` (an erasure may happen offline; the receipt is then told apart from a replay by its counter, and its age
/// by `iat`). It is signed with the vault's device key and the counter [`Vault::erase`] reserved in the same durable
/// write that wiped the template, with `live: false` and `att: 0`. Then the vault file is destroyed
/// ([`Vault::destroy`]), and the device key with it.
///
/// **The caller must then delete `kek`**, the key-encryption key the vault was opened with (and never seal a new
/// vault with it): that is what makes every earlier copy of the file unreadable. If destroying the file fails, the
/// error is returned and the file is left without a template; erasing it again signs another receipt.
pub fn erase(mut vault: Vault, challenge: Option<&Challenge<'_>>, now: Clock) -> Result<String> {
    let challenge = challenge.copied().unwrap_or(Challenge { nonce: ERASURE_NONCE, block: ERASURE_NONCE });
    challenge.check()?;
    // Load the key before erasing: a vault whose key cannot sign must not lose its template without a receipt.
    let key = device_key(&vault)?;
    let ticket = vault.erase(now)?;
    let verdict = Verdict { outcome: Outcome::Erased, live: false, retake: None };
    let claims = claims(&ticket.driver_id, &ticket.fleet_id, &challenge, ticket.erased_at, ticket.counter, &verdict, 0);
    let receipt = key.sign(&claims);
    drop(key);
    vault.destroy()?;
    log::info!("erasure: receipt signed, the vault and its device key destroyed");
    Ok(receipt)
}

/// The state of `vault` at `now`.
pub fn status(vault: &Vault, now: Clock) -> Result<Status> {
    let enrolled = is_enrolled_at(vault, now.wall);
    Ok(Status {
        driver_id: vault.driver_id().to_owned(),
        fleet_id: vault.fleet_id().to_owned(),
        device_key_id: device_key(vault)?.key_id().to_string(),
        enrolled,
        enrolled_at: vault.enrolled_at().filter(|_| enrolled),
        last_checkin_at: vault.last_checkin_at().filter(|_| enrolled),
        lock_out: vault.lock_out(now),
        failures: vault.failures(),
        retention_days: vault.retention_days(),
        retention_deadline: vault.retention_deadline().filter(|_| enrolled),
        counter: vault.counter(),
    })
}

/// The policy id signed as `pol`: the embedder, the template rule, the distance threshold and the false-match
/// rate it was chosen for, and the liveness rule with its thresholds ([`LivenessRule::id`]), all from the
/// compiled-in manifest; `/provisional` is appended while a threshold is marked provisional there. For example
/// `dlib_resnet29_128d_int8w/mean-template/l2<0.5/fmr1e-3/live:v2>=0.2&v1se>=0.3/provisional`.
///
/// [`LivenessRule::id`]: crate::LivenessRule::id
pub fn policy_id() -> String {
    let manifest = Manifest::shipped();
    let embedder = &manifest.models.embedder;
    let matching = &embedder.match_threshold;
    let liveness = &manifest.liveness.liveness_threshold;
    let model = embedder.model.file.strip_suffix(".onnx").unwrap_or(&embedder.model.file);
    let mut id = format!(
        "{model}/mean-template/l2<{}/fmr{:e}/live:{}",
        matching.distance,
        matching.chosen_for_fmr,
        liveness.rule.id()
    );
    if matching.chosen_on == "PROVISIONAL" || liveness.chosen_on == "PROVISIONAL" {
        id.push_str("/provisional");
    }
    id
}

/// The digest of the compiled-in model manifest, signed as `mdl`.
pub fn model_digest() -> ManifestDigest {
    ManifestDigest::from_hex(&Manifest::digest()).expect("Manifest::digest is 64 lowercase hexadecimal digits")
}

/// Whether `vault` holds a template that the retention rule has not wiped at `now`.
pub(crate) fn is_enrolled_at(vault: &Vault, now: u64) -> bool {
    vault.is_enrolled() && vault.retention_deadline().is_some_and(|deadline| now < deadline)
}

/// The vault's device signing key.
pub(crate) fn device_key(vault: &Vault) -> Result<DeviceKey> {
    DeviceKey::from_pkcs8(vault.signing_key_pkcs8())
        .map_err(|_| Error::VaultCorrupt("the device signing key is not a valid Ed25519 key"))
}

pub(crate) fn claims(
    driver: &str,
    fleet: &str,
    challenge: &Challenge<'_>,
    issued_at: u64,
    counter: u64,
    verdict: &Verdict,
    attempts: u32,
) -> Claims {
    Claims {
        driver: driver.to_owned(),
        fleet: fleet.to_owned(),
        block: challenge.block.to_owned(),
        nonce: challenge.nonce.to_owned(),
        issued_at,
        counter,
        outcome: verdict.outcome,
        liveness_passed: verdict.live,
        liveness_method: facecheck_attest::LivenessMethod::Passive,
        attempts,
        model_manifest: model_digest(),
        policy: policy_id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

fn decode(bytes: &[u8], index: usize) -> Result<RgbImage> {
    decode_image(bytes).map_err(|source| Error::Selfie { index, source: Box::new(source) })
}

/// Screens and embeds the enrollment selfies, and checks that they match each other.
fn build_template(engine: &Engine, selfies: &[impl AsRef<[u8]>]) -> Result<Vec<Embedding>> {
    if !(MIN_ENROLLMENT_SELFIES..=MAX_ENROLLMENT_SELFIES).contains(&selfies.len()) {
        return Err(Error::EnrollmentSelfieCount {
            given: selfies.len(),
            min: MIN_ENROLLMENT_SELFIES,
            max: MAX_ENROLLMENT_SELFIES,
        });
    }
    let mut templates = Vec::with_capacity(selfies.len());
    for (i, bytes) in selfies.iter().enumerate() {
        let selfie = i + 1;
        let image = decode(bytes.as_ref(), selfie)?;
        match engine.screen_and_embed(&image)? {
            Probe::Retake(issue) => return Err(Error::EnrollmentRetake { selfie, issue }),
            Probe::SpoofSuspected => return Err(Error::EnrollmentSpoofSuspected { selfie }),
            Probe::Live(embedding) => templates.push(*embedding),
        }
    }
    let threshold = engine.threshold();
    for (i, a) in templates.iter().enumerate() {
        // Written so that a NaN distance fails.
        if !templates[i + 1..].iter().all(|b| a.distance(b) < threshold) {
            return Err(Error::EnrollmentInconsistent);
        }
    }
    Ok(templates)
}

/// Steps 3 and 4 of a check-in: pick the frame, screen it, and match it against the template.
fn decide(engine: &Engine, vault: &mut Vault, frames: &[impl AsRef<[u8]>], now: Clock) -> Result<Verdict> {
    let image = match pick_frame(engine, frames)? {
        Ok(image) => image,
        Err(issue) => return Ok(Verdict::retake(issue)),
    };
    let probe = match engine.screen_and_embed(&image) {
        Ok(Probe::Retake(issue)) => return Ok(Verdict::retake(issue)),
        Ok(Probe::SpoofSuspected) => {
            return Ok(Verdict { outcome: Outcome::SpoofSuspected, live: false, retake: None })
        }
        Ok(Probe::Live(probe)) => *probe,
        Err(Error::NoFace) => return Ok(Verdict::retake(QualityIssue::NoFace)),
        Err(e) => return Err(e),
    };
    // The distance goes no further than this comparison.
    let is_match = vault.mean_distance(&probe, now)? < engine.threshold();
    Ok(Verdict { outcome: if is_match { Outcome::Match } else { Outcome::NoMatch }, live: true, retake: None })
}

/// The frame to judge: of those passing the quality gates, the one with the highest detector score, then the
/// sharpest, then the earliest. When none passes, the issue of the frame that got furthest through the gates
/// (the gates run in [`QualityIssue`] order; [`QualityIssue::NoFace`] only if no frame had a face).
///
/// The gates here are the ones [`Engine::screen_image`] applies first ([`QualityLimits::SHIPPED`]); the picked
/// frame is screened again by the engine, whose answer is the one that counts.
fn pick_frame(engine: &Engine, frames: &[impl AsRef<[u8]>]) -> Result<std::result::Result<RgbImage, QualityIssue>> {
    if let [frame] = frames {
        return Ok(Ok(decode(frame.as_ref(), 1)?));
    }
    let mut best: Option<(RgbImage, f32, f32)> = None;
    let mut furthest = QualityIssue::NoFace;
    for (i, bytes) in frames.iter().enumerate() {
        let image = decode(bytes.as_ref(), i + 1)?;
        let faces = engine.detector().detect(&image)?;
        let (score, sharpness) = match quality::assess(&image, &faces, &QualityLimits::SHIPPED) {
            Ok((face, measures)) => (face.score, measures.sharpness),
            Err(issue) => {
                furthest = furthest.max(issue);
                continue;
            }
        };
        let better = best.as_ref().is_none_or(|(_, s, sh)| score.total_cmp(s).then(sharpness.total_cmp(sh)).is_gt());
        if better {
            best = Some((image, score, sharpness));
        }
    }
    Ok(best.map(|(image, ..)| image).ok_or(furthest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkin_policy_id_names_the_manifest_thresholds() {
        let manifest = Manifest::shipped();
        let id = policy_id();
        assert!(id.starts_with("dlib_resnet29_128d_int8w/mean-template/l2<"), "{id}");
        let threshold = manifest.models.embedder.match_threshold.distance;
        let live = manifest.liveness.liveness_threshold.rule.id();
        assert!(id.contains(&format!("/l2<{threshold}/fmr1e-3/live:{live}")), "{id}");
        assert_eq!(model_digest().as_str(), Manifest::digest());
    }

    #[test]
    fn checkin_messages_carry_no_numbers_but_the_lock_out() {
        let result =
            |outcome, retake, lock_out| CheckIn { token: String::new(), outcome, retake, lock_out, issued_at: 1_000 };
        for outcome in Outcome::ALL {
            let text = result(outcome, Some(QualityIssue::TooDark), None).message();
            assert!(!text.chars().any(|c| c.is_ascii_digit()), "{text}");
        }
        let text = result(Outcome::PoorQuality, Some(QualityIssue::Blurry), None).message();
        assert!(text.ends_with(QualityIssue::Blurry.message()), "{text}");
        let text = result(Outcome::LockedOut, None, Some(LockOut::Until(1_000 + LONG_LOCKOUT_SECS - 30))).message();
        assert!(text.contains("try again in 30 minute(s)"), "{text}");
        let text = result(Outcome::NoMatch, None, Some(LockOut::UntilReenrolled)).message();
        assert!(text.contains("until you enroll again") && !text.chars().any(|c| c.is_ascii_digit()), "{text}");
    }

    #[test]
    fn checkin_challenges_are_bounded() {
        assert!(Challenge { nonce: "n", block: "b" }.check().is_ok());
        let long = "x".repeat(MAX_CHALLENGE_LEN + 1);
        for (nonce, block) in [("", "b"), ("n", ""), (long.as_str(), "b"), ("n", long.as_str())] {
            assert!(matches!(Challenge { nonce, block }.check(), Err(Error::InvalidChallenge(_))));
        }
    }
}
