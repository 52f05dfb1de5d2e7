//! Every failure of a native call, and how it becomes a typed Java exception.
//!
//! The Java classes are the nested classes of `com.facecheck.api.FacecheckException`
//! (`android/facecheck-api/src/main/java/com/facecheck/api/FacecheckException.java`); their names and constructors
//! are listed once, in [`JavaException`]. Messages are the core's `Display` texts, which carry no user data.

use jni::errors::ErrorPolicy;
use jni::objects::{JString, JThrowable, JValue};
use jni::strings::{JNIStr, JNIString};
use jni::{jni_sig, jni_str, Env};
use std::any::Any;

/// Why a native call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BridgeError {
    /// The core refused or failed.
    #[error(transparent)]
    Core(#[from] facecheck::Error),
    /// A selfie cannot be judged; the driver should retake it (the message says how).
    #[error("{}", .0.message())]
    Retake(facecheck::QualityIssue),
    /// The selfie looks like a presentation attack.
    #[error("the selfie looks like a photo or a screen, not a live face")]
    SpoofSuspected,
    /// A JNI call failed (a null argument, a missing class, a pending Java exception).
    #[error("JNI call failed: {0}")]
    Jni(#[from] jni::errors::Error),
    /// The handle was closed, or never was a handle.
    #[error("the engine is closed")]
    Closed,
    /// An argument the core never sees is unusable (a key of the wrong length, half an erasure challenge).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The session's vault was erased and its key-encryption key retired: nothing is sealed with it again.
    #[error("the vault was erased and its key retired: open a new engine with a new key to enroll again")]
    Erased,
    /// The system clock reads before 1970.
    #[error("the system clock is not set")]
    Clock,
    /// An earlier call panicked while holding this handle's lock; its state cannot be trusted.
    #[error("an earlier call failed inside the native library; close and reopen the engine")]
    Poisoned,
}

/// The Java exception a [`BridgeError`] becomes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JavaException {
    NoFace,
    PoorQuality { reason: &'static str },
    SpoofSuspected,
    VaultCorrupt,
    WrongKey,
    VaultRolledBack,
    InvalidInput,
    InvalidState { reason: &'static str },
    QrCodeNotRead { reason: &'static str },
    Internal,
}

impl JavaException {
    /// The exception for a core error (an unreadable selfie is judged by why it is unreadable).
    fn of_core(error: &facecheck::Error) -> JavaException {
        use facecheck::Error as E;
        match error {
            E::NoFace => JavaException::NoFace,
            E::EnrollmentRetake { issue, .. } if *issue == facecheck::QualityIssue::NoFace => JavaException::NoFace,
            E::EnrollmentRetake { issue, .. } => JavaException::PoorQuality { reason: issue.code() },
            E::EnrollmentInconsistent => JavaException::PoorQuality { reason: "inconsistent" },
            E::EnrollmentSpoofSuspected { .. } => JavaException::SpoofSuspected,
            E::Selfie { source, .. } => JavaException::of_core(source),
            E::VaultCorrupt(_) | E::VaultUnsupportedVersion(_) => JavaException::VaultCorrupt,
            E::VaultUnreadable => JavaException::WrongKey,
            E::InvalidImage(_)
            | E::UnsupportedImage(_)
            | E::ImageTooLarge { .. }
            | E::ModelDigestMismatch { .. }
            | E::VaultRetention { .. }
            | E::VaultInvalidInput(_)
            | E::EnrollmentSelfieCount { .. }
            | E::CheckinFrameCount { .. }
            | E::InvalidFrame(_)
            | E::FramesTooLarge { .. }
            | E::FramesOutOfOrder { .. }
            | E::InvalidChallenge(_) => JavaException::InvalidInput,
            E::QrCodeNotFound => JavaException::QrCodeNotRead { reason: "no_code" },
            E::QrCodeUnreadable => JavaException::QrCodeNotRead { reason: "unreadable" },
            E::NotEnrollmentCode(_) => JavaException::QrCodeNotRead { reason: "not_enrollment" },
            E::VaultMissing | E::VaultNotEnrolled => JavaException::InvalidState { reason: "not_enrolled" },
            E::VaultExists => JavaException::InvalidState { reason: "vault_exists" },
            E::VaultErasureDue => JavaException::InvalidState { reason: "erasure_due" },
            E::VaultAlreadyEnrolled => JavaException::InvalidState { reason: "already_enrolled" },
            E::VaultBusy => JavaException::InvalidState { reason: "vault_busy" },
            E::VaultRolledBack { .. } => JavaException::VaultRolledBack,
            E::VaultLockedOut => JavaException::InvalidState { reason: "locked_out" },
            E::Model { .. } | E::ModelIo { .. } | E::VaultIo { .. } | E::VaultCrypto(_) => JavaException::Internal,
        }
    }

    pub(crate) fn of(error: &BridgeError) -> JavaException {
        match error {
            BridgeError::Core(e) => JavaException::of_core(e),
            BridgeError::Retake(facecheck::QualityIssue::NoFace) => JavaException::NoFace,
            BridgeError::Retake(issue) => JavaException::PoorQuality { reason: issue.code() },
            BridgeError::SpoofSuspected => JavaException::SpoofSuspected,
            BridgeError::Jni(jni::errors::Error::NullPtr(_)) => JavaException::InvalidInput,
            BridgeError::Jni(_) | BridgeError::Clock | BridgeError::Poisoned => JavaException::Internal,
            BridgeError::Closed => JavaException::InvalidState { reason: "closed" },
            BridgeError::Erased => JavaException::InvalidState { reason: "erased" },
            BridgeError::InvalidArgument(_) => JavaException::InvalidInput,
        }
    }

    /// The Java class (a nested class of `FacecheckException`).
    fn class(&self) -> &'static JNIStr {
        match self {
            JavaException::NoFace => jni_str!("com/facecheck/api/FacecheckException$NoFace"),
            JavaException::PoorQuality { .. } => jni_str!("com/facecheck/api/FacecheckException$PoorQuality"),
            JavaException::SpoofSuspected => jni_str!("com/facecheck/api/FacecheckException$SpoofSuspected"),
            JavaException::VaultCorrupt => jni_str!("com/facecheck/api/FacecheckException$VaultCorrupt"),
            JavaException::WrongKey => jni_str!("com/facecheck/api/FacecheckException$WrongKey"),
            JavaException::VaultRolledBack => jni_str!("com/facecheck/api/FacecheckException$VaultRolledBack"),
            JavaException::InvalidInput => jni_str!("com/facecheck/api/FacecheckException$InvalidInput"),
            JavaException::InvalidState { .. } => jni_str!("com/facecheck/api/FacecheckException$InvalidState"),
            JavaException::QrCodeNotRead { .. } => jni_str!("com/facecheck/api/FacecheckException$QrCodeNotRead"),
            JavaException::Internal => jni_str!("com/facecheck/api/FacecheckException$Internal"),
        }
    }

    /// Throws this exception with `message`. Returns the JNI error if the exception could not even be made.
    fn throw(&self, env: &mut Env<'_>, message: &str) -> jni::errors::Result<()> {
        let message = JString::from_str(env, message)?;
        let throwable = match self {
            // (String reason, String message)
            JavaException::PoorQuality { reason }
            | JavaException::InvalidState { reason }
            | JavaException::QrCodeNotRead { reason } => {
                let reason = JString::from_str(env, reason)?;
                let args = [JValue::from(&reason), JValue::from(&message)];
                env.new_object(self.class(), jni_sig!("(Ljava/lang/String;Ljava/lang/String;)V"), &args)?
            }
            // (String message)
            _ => env.new_object(self.class(), jni_sig!("(Ljava/lang/String;)V"), &[JValue::from(&message)])?,
        };
        let throwable = env.cast_local::<JThrowable>(throwable)?;
        match env.throw(throwable) {
            // `throw` reports the exception it has just made pending as an error: that is the success case.
            Ok(()) | Err(jni::errors::Error::JavaException) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The [`ErrorPolicy`] of every entry point: errors become [`JavaException`]s, panics `Internal`.
///
/// A Java exception already pending (thrown by a JNI call the bridge made) is left to propagate. If the typed
/// exception cannot be made (its class is missing: a wrapper from another version), a `RuntimeException` is thrown
/// instead, so a failure is never silent.
pub(crate) struct ThrowFacecheck;

impl<T: Default> ErrorPolicy<T, BridgeError> for ThrowFacecheck {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        err: BridgeError,
    ) -> jni::errors::Result<T> {
        if !env.exception_check() {
            log::warn!("native call failed: {err}");
            throw_or_fallback(env, &JavaException::of(&err), &err.to_string());
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        // The payload's text may quote data; it is not logged or shown. Dropping it could panic in turn.
        if let Err(second) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(second);
            log::error!("a panic payload panicked when dropped");
        }
        log::error!("a native call panicked");
        if env.exception_check() {
            env.exception_clear();
        }
        throw_or_fallback(env, &JavaException::Internal, "internal error: the native library panicked");
        Ok(T::default())
    }
}

fn throw_or_fallback(env: &mut Env<'_>, exception: &JavaException, message: &str) {
    if exception.throw(env, message).is_err() {
        if env.exception_check() {
            env.exception_clear();
        }
        let _ = env.throw_new(jni_str!("java/lang/RuntimeException"), JNIString::from(message));
    }
}

/// The result of an entry point's body.
pub(crate) type Result<T> = std::result::Result<T, BridgeError>;

#[cfg(test)]
mod tests {
    use super::*;
    use facecheck::{Error, QualityIssue};

    #[test]
    fn core_errors_map_to_their_exceptions() {
        let cases = [
            (Error::NoFace, JavaException::NoFace),
            (Error::EnrollmentRetake { selfie: 2, issue: QualityIssue::NoFace }, JavaException::NoFace),
            (
                Error::EnrollmentRetake { selfie: 1, issue: QualityIssue::TooDark },
                JavaException::PoorQuality { reason: "too_dark" },
            ),
            (Error::EnrollmentSpoofSuspected { selfie: 3 }, JavaException::SpoofSuspected),
            (Error::VaultCorrupt("truncated"), JavaException::VaultCorrupt),
            (Error::VaultUnsupportedVersion(9), JavaException::VaultCorrupt),
            (Error::VaultUnreadable, JavaException::WrongKey),
            (Error::InvalidImage("empty".into()), JavaException::InvalidInput),
            (
                Error::Selfie { index: 2, source: Box::new(Error::InvalidImage("truncated".into())) },
                JavaException::InvalidInput,
            ),
            (Error::InvalidChallenge("empty nonce"), JavaException::InvalidInput),
            (Error::VaultNotEnrolled, JavaException::InvalidState { reason: "not_enrolled" }),
            (Error::VaultBusy, JavaException::InvalidState { reason: "vault_busy" }),
            (Error::VaultRolledBack { vault_counter: 1, fleet_counter: 2 }, JavaException::VaultRolledBack),
            (Error::VaultCrypto("rng"), JavaException::Internal),
            (Error::QrCodeNotFound, JavaException::QrCodeNotRead { reason: "no_code" }),
            (Error::QrCodeUnreadable, JavaException::QrCodeNotRead { reason: "unreadable" }),
            (Error::NotEnrollmentCode("not text"), JavaException::QrCodeNotRead { reason: "not_enrollment" }),
        ];
        for (error, expected) in cases {
            assert_eq!(JavaException::of(&BridgeError::Core(error)), expected);
        }
        assert_eq!(JavaException::of(&BridgeError::Closed), JavaException::InvalidState { reason: "closed" });
        assert_eq!(JavaException::of(&BridgeError::Erased), JavaException::InvalidState { reason: "erased" });
        assert_eq!(JavaException::of(&BridgeError::Poisoned), JavaException::Internal);
    }
}
