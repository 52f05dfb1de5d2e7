//! The JNI bridge of Facecheck: the core's check-in API for the JVM, and nothing more.
//!
//! The Java side is `com.facecheck.api` (`android/facecheck-api/`): `NativeBridge` declares the native methods
//! below, `Facecheck` wraps them for the app and the host tests. This crate is deliberately thin:
//! - every decision is the core's ([`facecheck::checkin`]); the bridge converts arguments and results, keeps the
//!   handles ([`session`]), reads the clocks ([`now`]: the wall clock and `CLOCK_BOOTTIME`, which is
//!   `SystemClock.elapsedRealtime`), and maps errors to typed Java exceptions ([`error`]);
//! - every entry point runs inside `EnvUnowned::with_env`, which catches panics, and resolves with
//!   [`error::ThrowFacecheck`], so a Rust error or panic always reaches Java as a `FacecheckException`;
//! - no call returns an image, a crop, an embedding, a template or a score: only tokens (signed JWS), outcome
//!   names, retake reasons, timestamps and the device's public key;
//! - frames and selfies are bounded before they are copied out of the JVM ([`frames`]): at most [`MAX_FRAMES`]
//!   frames (or [`MAX_ENROLLMENT_SELFIES`] selfies, or an active check-in's 64 timed frames), each within its
//!   bounds, 64 MiB in all;
//! - there is no network code; logs (Android's logcat through `android_logger`, from info level up) carry no user
//!   data, and outcomes (what a check-in, an enrollment or an erasure came to) are logged at debug level only, which
//!   logcat does not get.

mod error;
mod frames;
mod session;
#[cfg(feature = "testing")]
mod testing;

use error::{BridgeError, Result, ThrowFacecheck};
use facecheck::checkin::{
    self, Challenge, CheckIn, EnrollmentContext, MAX_ENROLLMENT_SELFIES, MAX_FRAMES, MIN_ENROLLMENT_SELFIES,
};
use facecheck::checkin_active::check_in_active;
use facecheck::review::{review_request, ReviewSubject};
use facecheck::{ActiveChallenge, Clock, Engine, Kek, LockOut, Manifest, ModelBytes, Screening, Vault};
use facecheck_attest::{CodeBinding, Consent, LivenessMethod, ReviewReason};
use frames::{bytes, frames, selfie, timed_frames};
use jni::objects::{JByteArray, JClass, JIntArray, JLongArray, JObject, JObjectArray, JString, JValue};
use jni::sys::{jboolean, jlong};
use jni::{jni_sig, jni_str, Env, EnvUnowned};
use session::{Session, Slot};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Sends `log` records to logcat on Android (once); elsewhere the host application chooses a logger, if any.
fn init_logging() {
    #[cfg(target_os = "android")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            android_logger::init_once(
                android_logger::Config::default().with_max_level(log::LevelFilter::Info).with_tag("facecheck"),
            );
        });
    }
}

/// The clocks: the core takes time as an argument, and this is where it comes from. The wall clock in unix seconds,
/// and the seconds since boot on `CLOCK_BOOTTIME` (Android's `SystemClock.elapsedRealtime`: counts through sleep,
/// restarts at boot, cannot be set), on which the core serves a lock-out so that setting the clock cannot end it.
fn now() -> Result<Clock> {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).map_err(|_| BridgeError::Clock)?;
    Ok(Clock::new(wall, boot_time()))
}

/// Seconds since boot (`CLOCK_BOOTTIME`), or `None` if the call fails.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn boot_time() -> Option<u64> {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `time` is a valid, writable timespec for the duration of the call, and CLOCK_BOOTTIME is a clock id
    // every Linux since 2.6.39 (every Android) knows; on failure the call returns -1 and `time` is not used.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut time) };
    if status == 0 {
        u64::try_from(time.tv_sec).ok()
    } else {
        None
    }
}

/// No boot-time clock on this platform: the wall clock only.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn boot_time() -> Option<u64> {
    None
}

/// A lock-out for Java: the estimated end of a timed one (or -1), and whether it lasts until a new enrollment.
fn lock_out_values(lock_out: Option<LockOut>) -> (jlong, jboolean) {
    match lock_out {
        Some(LockOut::Until(until)) => (to_jlong(Some(until)), jboolean::from(false)),
        Some(LockOut::UntilReenrolled) => (-1, jboolean::from(true)),
        None => (-1, jboolean::from(false)),
    }
}

/// A timestamp or count for Java (`long`); `None` becomes -1.
fn to_jlong(value: Option<u64>) -> jlong {
    value.map_or(-1, |v| jlong::try_from(v).unwrap_or(jlong::MAX))
}

fn string(env: &Env<'_>, text: &JString<'_>) -> Result<String> {
    if text.is_null() {
        return Err(BridgeError::InvalidArgument("a string argument is null"));
    }
    Ok(text.try_to_string(env)?)
}

/// A Java string argument that may be null.
fn optional_string(env: &Env<'_>, text: &JString<'_>) -> Result<Option<String>> {
    if text.is_null() {
        return Ok(None);
    }
    Ok(Some(text.try_to_string(env)?))
}

/// What an enrollment signs besides the key: the enrollment code's binding (`enc`) if a code is given, the consent
/// (`cns`) if a notice version is given, accepted at `accepted_at` (unix seconds; -1 exactly when there is none).
fn enrollment_context(
    env: &Env<'_>,
    code: &JString<'_>,
    notice: &JString<'_>,
    accepted_at: jlong,
) -> Result<EnrollmentContext> {
    let code = optional_string(env, code)?;
    if code.as_deref().is_some_and(|c| c.trim().is_empty() || c.len() > 64) {
        return Err(BridgeError::InvalidArgument("the enrollment code is empty or too long"));
    }
    let consent = match (optional_string(env, notice)?, u64::try_from(accepted_at)) {
        (Some(notice), Ok(accepted_at)) => Some(Consent { notice, accepted_at }),
        (None, Err(_)) if accepted_at == -1 => None,
        _ => {
            return Err(BridgeError::InvalidArgument(
                "give the consent notice with the time it was accepted, or neither",
            ))
        }
    };
    Ok(EnrollmentContext { code: code.as_deref().map(CodeBinding::of_code), consent })
}

/// A nullable Java string.
fn java_string<'l>(env: &mut Env<'l>, text: Option<&str>) -> Result<JString<'l>> {
    Ok(match text {
        Some(text) => JString::from_str(env, text)?,
        None => JString::null(),
    })
}

/// A Java `String[]` of `texts`.
fn string_array<'l>(env: &mut Env<'l>, texts: &[&str]) -> Result<JObjectArray<'l, JString<'l>>> {
    let array = JObjectArray::<JString>::new(env, texts.len(), JString::null())?;
    for (i, text) in texts.iter().enumerate() {
        let text = JString::from_str(env, text)?;
        array.set_element(env, i, &text)?;
    }
    Ok(array)
}

/// The 32-byte key-encryption key (its copies in native memory are wiped when dropped).
fn read_kek(env: &Env<'_>, array: &JByteArray<'_>) -> Result<Kek> {
    if array.is_null() || array.len(env)? != facecheck::vault::KEK_LEN {
        return Err(BridgeError::InvalidArgument("the key-encryption key must be 32 bytes"));
    }
    let raw = Zeroizing::new(bytes(env, array)?);
    let raw: &[u8; facecheck::vault::KEK_LEN] = raw
        .as_slice()
        .try_into()
        .map_err(|_| BridgeError::InvalidArgument("the key-encryption key must be 32 bytes"))?;
    Ok(Kek::from_bytes(raw))
}

/// `String[] modelFileNames()`: the model files the compiled-in manifest pins, in the order `open` takes them
/// (detector, embedder, liveness V2, liveness V1SE).
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_modelFileNames<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> JObjectArray<'l, JString<'l>> {
    env.with_env(|env| -> Result<_> {
        let models = &Manifest::shipped().models;
        let names = [
            &models.detector.model.file,
            &models.embedder.model.file,
            &models.liveness_v2.model.file,
            &models.liveness_v1se.model.file,
        ];
        string_array(env, &names.map(String::as_str))
    })
    .resolve::<ThrowFacecheck>()
}

/// `long open(byte[] detector, byte[] embedder, byte[] livenessV2, byte[] livenessV1se, String vaultPath,
/// byte[] kek)`: loads the models (checked against the manifest, optimised once) and opens the vault at
/// `vaultPath` if there is one (enrollment creates it otherwise). Returns a handle for the other calls.
#[allow(clippy::too_many_arguments)] // the JNI signature: env, class, then the Java arguments
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_open<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    detector: JByteArray<'l>,
    embedder: JByteArray<'l>,
    liveness_v2: JByteArray<'l>,
    liveness_v1se: JByteArray<'l>,
    vault_path: JString<'l>,
    kek: JByteArray<'l>,
) -> jlong {
    env.with_env(|env| -> Result<jlong> {
        init_logging();
        let kek = read_kek(env, &kek)?;
        let path = PathBuf::from(string(env, &vault_path)?);
        // The vault first: a wrong key or a corrupt file fails before the models are optimised.
        let vault = match Vault::open(&path, &kek, now()?) {
            Ok(vault) => Some(vault),
            Err(facecheck::Error::VaultMissing) => None,
            Err(e) => return Err(e.into()),
        };
        let (detector, embedder) = (bytes(env, &detector)?, bytes(env, &embedder)?);
        let (liveness_v2, liveness_v1se) = (bytes(env, &liveness_v2)?, bytes(env, &liveness_v1se)?);
        let engine = Engine::from_bytes(ModelBytes {
            detector: &detector,
            embedder: &embedder,
            liveness_v2: &liveness_v2,
            liveness_v1se: &liveness_v1se,
        })?;
        log::info!("engine opened");
        Ok(session::insert(Session { engine, path, slot: Mutex::new(Slot::new(kek, vault)) }))
    })
    .resolve::<ThrowFacecheck>()
}

/// `void close(long handle)`: releases the engine and the vault. Closing again, or a closed handle, does nothing.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_close<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    env.with_env(|_env| -> Result<()> {
        session::remove(handle);
        Ok(())
    })
    .resolve::<ThrowFacecheck>()
}

/// `void screen(long handle, byte[] frame)`: the capture guidance for one selfie (quality gates, then liveness).
/// Returns normally for a usable selfie; throws `NoFace`, `PoorQuality` (with the reason) or `SpoofSuspected`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_screen<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    frame: JByteArray<'l>,
) {
    env.with_env(|env| -> Result<()> {
        let session = session::get(handle)?;
        let frame = selfie(env, &frame)?;
        match session.engine.screen(&frame)? {
            Screening::Passed { .. } => Ok(()),
            Screening::Retake(issue) => Err(BridgeError::Retake(issue)),
            Screening::SpoofSuspected { .. } => Err(BridgeError::SpoofSuspected),
        }
    })
    .resolve::<ThrowFacecheck>()
}

/// `String enroll(long handle, String driverId, String fleetId, byte[][] selfies, String enrollmentCode, String
/// consentNotice, long consentAcceptedAt)`: enrolls the driver from 3 to 5 selfies, creating the vault with a new
/// device key, and returns the device registration statement (a JWS) that the fleet has to register, carrying the
/// enrollment code's binding and the driver's consent when given (null, null, -1: none; the fleet service refuses
/// a statement without them). There must be no vault yet: after an erasure, a new engine opened with a new key
/// enrolls, so a new face is never enrolled under a key the fleet registered.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_enroll<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    driver_id: JString<'l>,
    fleet_id: JString<'l>,
    selfies: JObjectArray<'l, JByteArray<'l>>,
    enrollment_code: JString<'l>,
    consent_notice: JString<'l>,
    consent_accepted_at: jlong,
) -> JString<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let (driver_id, fleet_id) = (string(env, &driver_id)?, string(env, &fleet_id)?);
        let context = enrollment_context(env, &enrollment_code, &consent_notice, consent_accepted_at)?;
        let selfies = frames(env, &selfies, MAX_ENROLLMENT_SELFIES, |given| facecheck::Error::EnrollmentSelfieCount {
            given,
            min: MIN_ENROLLMENT_SELFIES,
            max: MAX_ENROLLMENT_SELFIES,
        })?;
        let now = now()?;
        let mut slot = session.lock()?;
        // The core opens the vault at the path itself (to refuse an enrolled one): close this session's handle on
        // it first (the slot's mutex still keeps this session's other calls out); the next call reopens it if the
        // enrollment fails.
        drop(slot.vault.take());
        let kek = slot.kek()?;
        let enrolled =
            checkin::enroll_with(&session.engine, &session.path, kek, &driver_id, &fleet_id, &selfies, &context, now)?;
        slot.vault = Some(enrolled.vault);
        drop(slot);
        log::debug!("driver enrolled with a new device key");
        Ok(JString::from_str(env, &enrolled.registration)?)
    })
    .resolve::<ThrowFacecheck>()
}

/// `CheckInResult checkIn(long handle, String nonce, String blockId, long lastCounter, byte[][] frames)`: one
/// check-in against the server's challenge, whose `last_counter` is `lastCounter` (-1 when there is none: no
/// rollback check). Every outcome the core signs (`match`, `no_match`, `spoof_suspected`, `no_face`,
/// `poor_quality`, `locked_out`) is a result carrying the token to upload; errors (nothing signed) throw, a vault
/// older than the fleet's counter `VaultRolledBack`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_checkIn<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    nonce: JString<'l>,
    block_id: JString<'l>,
    last_counter: jlong,
    frames_array: JObjectArray<'l, JByteArray<'l>>,
) -> JObject<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let (nonce, block) = (string(env, &nonce)?, string(env, &block_id)?);
        let last_counter = fleet_last_counter(last_counter)?;
        let frames = frames(env, &frames_array, MAX_FRAMES, |given| facecheck::Error::CheckinFrameCount {
            given,
            max: MAX_FRAMES,
        })?;
        let now = now()?;
        let mut slot = session.lock()?;
        let vault = slot.open_vault(&session.path, now)?;
        let challenge = Challenge { nonce: &nonce, block: &block };
        let result = checkin::check_in_with(&session.engine, vault, &challenge, last_counter, &frames, now)?;
        drop(slot);
        log::debug!("check-in signed: {}", result.outcome);
        check_in_result(env, &result, &result.message(), LivenessMethod::Passive, None)
    })
    .resolve::<ThrowFacecheck>()
}

/// A `com.facecheck.api.CheckInResult`: the check-in as signed, the sentence for the driver, the liveness method
/// and, for a failed active check, its reason.
fn check_in_result<'l>(
    env: &mut Env<'l>,
    result: &CheckIn,
    message: &str,
    method: LivenessMethod,
    active_reason: Option<&str>,
) -> Result<JObject<'l>> {
    let token = JString::from_str(env, &result.token)?;
    let outcome = JString::from_str(env, result.outcome.as_str())?;
    let retake = java_string(env, result.retake.map(|issue| issue.code()))?;
    let message = JString::from_str(env, message)?;
    let (locked_until, until_reenrolled) = lock_out_values(result.lock_out);
    let method = JString::from_str(env, method.as_str())?;
    let active_reason = java_string(env, active_reason)?;
    let args = [
        JValue::from(&token),
        JValue::from(&outcome),
        JValue::from(&retake),
        JValue::from(&message),
        JValue::Long(locked_until),
        JValue::Bool(until_reenrolled),
        JValue::Long(to_jlong(Some(result.issued_at))),
        JValue::from(&method),
        JValue::from(&active_reason),
    ];
    let signature = jni_sig!(
        "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;JZJLjava/lang/String;Ljava/lang/String;)V"
    );
    Ok(env.new_object(jni_str!("com/facecheck/api/CheckInResult"), signature, &args)?)
}

/// The fleet's last counter for the core: -1 is none.
fn fleet_last_counter(value: jlong) -> Result<Option<u64>> {
    match value {
        -1 => Ok(None),
        counter => u64::try_from(counter)
            .map(Some)
            .map_err(|_| BridgeError::InvalidArgument("the fleet's last counter is -1 (none) or at least 0")),
    }
}

/// `String[] activeChallenge(String nonce)`: the head poses (`left`, `right`, `up`) the active check-in of this
/// nonce asks for, in order. Needs no engine.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_activeChallenge<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    nonce: JString<'l>,
) -> JObjectArray<'l, JString<'l>> {
    env.with_env(|env| -> Result<_> {
        let challenge = ActiveChallenge::from_nonce(&string(env, &nonce)?);
        string_array(env, &challenge.poses().map(|pose| pose.code()))
    })
    .resolve::<ThrowFacecheck>()
}

/// `CheckInResult checkInActive(long handle, String nonce, String blockId, long lastCounter, byte[][] frames, int[]
/// shapes, long[] times)`: one check-in with the active challenge of `nonce` ([`check_in_active`]), on the timed
/// frames as `com.facecheck.api.Frame` describes them ([`frames::timed_frames`]). Signed outcomes are results, as
/// for `checkIn`, with the liveness method `active` and, for a sequence that failed the active check (signed
/// `spoof_suspected`), the reason; errors throw.
#[allow(clippy::too_many_arguments)] // the JNI signature: env, class, then the Java arguments
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_checkInActive<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    nonce: JString<'l>,
    block_id: JString<'l>,
    last_counter: jlong,
    frames_array: JObjectArray<'l, JByteArray<'l>>,
    shapes: JIntArray<'l>,
    times: JLongArray<'l>,
) -> JObject<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let (nonce, block) = (string(env, &nonce)?, string(env, &block_id)?);
        let last_counter = fleet_last_counter(last_counter)?;
        let frames = timed_frames(env, &frames_array, &shapes, &times)?;
        let now = now()?;
        let mut slot = session.lock()?;
        let vault = slot.open_vault(&session.path, now)?;
        let challenge = Challenge { nonce: &nonce, block: &block };
        let result = check_in_active(&session.engine, vault, &challenge, last_counter, &frames.frames(), now)?;
        drop(slot);
        drop(frames);
        log::debug!("check-in signed: {} (active)", result.check_in.outcome);
        let reason = result.active.filter(|&d| d != facecheck::ActiveDecision::Live).map(|d| d.code());
        check_in_result(env, &result.check_in, &result.message(), LivenessMethod::Active, reason)
    })
    .resolve::<ThrowFacecheck>()
}

/// `Status status(long handle)`: enrolled or not, since when, lock-out and failures since the last match, retention
/// deadline; no biometric data.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_status<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> JObject<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let now = now()?;
        let mut slot = session.lock()?;
        let status = match slot.open_vault(&session.path, now) {
            Ok(vault) => Some(checkin::status(vault, now)?),
            Err(BridgeError::Core(facecheck::Error::VaultMissing) | BridgeError::Erased) => None,
            Err(e) => return Err(e),
        };
        drop(slot);
        let text = |env: &mut Env<'l>, f: fn(&checkin::Status) -> &str| java_string(env, status.as_ref().map(f));
        let driver_id = text(env, |s| &s.driver_id)?;
        let fleet_id = text(env, |s| &s.fleet_id)?;
        let device_key_id = text(env, |s| &s.device_key_id)?;
        let time = |f: fn(&checkin::Status) -> Option<u64>| JValue::Long(to_jlong(status.as_ref().and_then(f)));
        let count = |value: Option<u64>| JValue::Int(value.map_or(0, |v| i32::try_from(v).unwrap_or(i32::MAX)));
        let (locked_until, until_reenrolled) = lock_out_values(status.as_ref().and_then(|s| s.lock_out));
        let args = [
            JValue::Bool(jboolean::from(status.is_some())),
            JValue::from(&driver_id),
            JValue::from(&fleet_id),
            JValue::from(&device_key_id),
            JValue::Bool(jboolean::from(status.as_ref().is_some_and(|s| s.enrolled))),
            time(|s| s.enrolled_at),
            time(|s| s.last_checkin_at),
            JValue::Long(locked_until),
            JValue::Bool(until_reenrolled),
            count(status.as_ref().map(|s| u64::from(s.failures))),
            count(status.as_ref().map(|s| u64::from(s.retention_days))),
            time(|s| s.retention_deadline),
        ];
        let signature = jni_sig!("(ZLjava/lang/String;Ljava/lang/String;Ljava/lang/String;ZJJJZIIJ)V");
        Ok(env.new_object(jni_str!("com/facecheck/api/Status"), signature, &args)?)
    })
    .resolve::<ThrowFacecheck>()
}

/// `String erase(long handle, String nonce, String blockId)`: erases the vault for good and returns the signed
/// erasure receipt. `nonce` and `blockId` are the server's challenge, or both null when erasing offline. The vault
/// file and its device key are destroyed, and the session's key-encryption key is wiped: the app deletes its copy
/// (the wrapped key and its Keystore alias), and enrolls again with a new engine opened with a new key.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_erase<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    nonce: JString<'l>,
    block_id: JString<'l>,
) -> JString<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let challenge = match (nonce.is_null(), block_id.is_null()) {
            (true, true) => None,
            (false, false) => Some((string(env, &nonce)?, string(env, &block_id)?)),
            _ => return Err(BridgeError::InvalidArgument("give both the nonce and the block id, or neither")),
        };
        let challenge = challenge.as_ref().map(|(nonce, block)| Challenge { nonce, block });
        let now = now()?;
        let mut slot = session.lock()?;
        let vault = slot.take_vault(&session.path, now)?;
        let receipt = checkin::erase(vault, challenge.as_ref(), now)?;
        slot.retire();
        drop(slot);
        log::debug!("template erased");
        Ok(JString::from_str(env, &receipt)?)
    })
    .resolve::<ThrowFacecheck>()
}

/// `String registrationStatement(long handle, String enrollmentCode, String consentNotice, long
/// consentAcceptedAt)`: a new device registration statement (a JWS carrying the device public key, signed by it),
/// dated now, with the code binding and consent as [`enroll`](Java_com_facecheck_api_NativeBridge_enroll) takes
/// them: for a statement that went stale before the fleet had it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_registrationStatement<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    enrollment_code: JString<'l>,
    consent_notice: JString<'l>,
    consent_accepted_at: jlong,
) -> JString<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let context = enrollment_context(env, &enrollment_code, &consent_notice, consent_accepted_at)?;
        let now = now()?;
        let mut slot = session.lock()?;
        let vault = slot.open_vault(&session.path, now)?;
        let statement = checkin::registration_statement_with(vault, &context, now.wall)?;
        drop(slot);
        Ok(JString::from_str(env, &statement)?)
    })
    .resolve::<ThrowFacecheck>()
}

/// `String reviewRequest(long handle, String checkInToken, String reason)`: a review request (JWS, `fc-review+jwt`)
/// signed by the device key, naming the check-in token given (by its hash; null: none) and the reason
/// (`no_match`, `spoof_suspected`, `locked_out` or `other`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_reviewRequest<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
    check_in_token: JString<'l>,
    reason: JString<'l>,
) -> JString<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let token = optional_string(env, &check_in_token)?;
        let subject = token.as_deref().map_or(ReviewSubject::Nothing, ReviewSubject::CheckIn);
        let reason = ReviewReason::parse(&string(env, &reason)?)
            .ok_or(BridgeError::InvalidArgument("the reason is no_match, spoof_suspected, locked_out or other"))?;
        let now = now()?;
        let mut slot = session.lock()?;
        let request = review_request(slot.open_vault(&session.path, now)?, subject, reason, now.wall)?;
        drop(slot);
        Ok(JString::from_str(env, &request)?)
    })
    .resolve::<ThrowFacecheck>()
}

/// `String readQrCode(byte[] picture)`: the payload of the dispatcher's enrollment QR code in a camera picture.
/// Needs no engine: the picture is bounded and decoded like a selfie, then scanned (`facecheck::qr`); a picture
/// without a code, a code that does not read and a code that is not an enrollment code throw `QrCodeNotRead` with
/// the reason `no_code`, `unreadable` or `not_enrollment`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_readQrCode<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    picture: JByteArray<'l>,
) -> JString<'l> {
    env.with_env(|env| -> Result<_> {
        let picture = selfie(env, &picture)?;
        let text = facecheck::qr::read_qr_code(&picture)?;
        java_string(env, Some(text.as_str()))
    })
    .resolve::<ThrowFacecheck>()
}

/// `byte[] devicePublicKey(long handle)`: the raw 32-byte Ed25519 public key of the device.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_api_NativeBridge_devicePublicKey<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> JByteArray<'l> {
    env.with_env(|env| -> Result<_> {
        let session = session::get(handle)?;
        let mut slot = session.lock()?;
        let vault = slot.open_vault(&session.path, now()?)?;
        let key = facecheck_attest::DeviceKey::from_pkcs8(vault.signing_key_pkcs8())
            .map_err(|_| facecheck::Error::VaultCorrupt("the device signing key is not a valid Ed25519 key"))?;
        drop(slot);
        Ok(env.byte_array_from_slice(&key.public_key())?)
    })
    .resolve::<ThrowFacecheck>()
}

#[cfg(test)]
mod tests {
    /// The `log::` lines of the entry points above, read from this file: `(level, message)`.
    fn log_lines() -> Vec<(&'static str, &'static str)> {
        let source = include_str!("lib.rs");
        let code = &source[..source.find("#[cfg(test)]\nmod tests").expect("this module")];
        code.match_indices("log::")
            .filter_map(|(at, _)| {
                let (level, rest) = code[at + "log::".len()..].split_once("!(")?;
                let message = rest.split_once('"')?.1.split_once('"')?.0;
                level.chars().all(|c| c.is_ascii_lowercase()).then_some((level, message))
            })
            .collect()
    }

    /// What a check-in, an enrollment or an erasure came to is logged at debug level, below the level the Android
    /// logger passes to logcat (issue 13): other apps and `adb logcat` never see it.
    #[test]
    fn outcomes_are_logged_below_the_logcat_level() {
        assert!(include_str!("lib.rs").contains("with_max_level(log::LevelFilter::Info)"));
        let lines = log_lines();
        for outcome in ["driver enrolled", "check-in signed", "template erased"] {
            let levels: Vec<_> = lines.iter().filter(|(_, m)| m.starts_with(outcome)).map(|(l, _)| *l).collect();
            assert!(!levels.is_empty() && levels.iter().all(|&l| l == "debug"), "{outcome}: {lines:?}");
        }
    }
}
