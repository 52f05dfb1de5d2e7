//! The one error type of the core, and [`QualityIssue`], the reasons a selfie cannot be used, which errors and
//! check-in results carry (the quality gates in [`quality`](crate::quality) find them). Both sit below the
//! pipeline and the device side, so that either can name them.
//!
//! Display texts name what went wrong and never carry user data: no pixels, no scores, no embeddings, no paths
//! of user files.

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a JPEG or PNG this library can read (empty, truncated, corrupt, another format).
    #[error("not a readable JPEG or PNG image: {0}")]
    InvalidImage(String),
    /// The image is a real JPEG or PNG but in a form selfies never take (16-bit, CMYK, ...).
    #[error("unsupported image format: {0}")]
    UnsupportedImage(String),
    /// The image is larger than the library accepts.
    #[error("image too large: {width}x{height} (at most {max_side} pixels a side, {max_pixels} pixels in all)")]
    ImageTooLarge {
        /// Width claimed by the image header.
        width: u32,
        /// Height claimed by the image header.
        height: u32,
        /// Largest accepted side.
        max_side: u32,
        /// Largest accepted pixel count.
        max_pixels: u64,
    },
    /// No face was found in an image where one was needed.
    #[error("no face found")]
    NoFace,
    /// Model bytes do not match the digest pinned in the compiled-in manifest.
    #[error("model `{name}` does not match the manifest (expected sha256 {expected}, got {actual})")]
    ModelDigestMismatch {
        /// Manifest entry name.
        name: &'static str,
        /// Pinned digest.
        expected: String,
        /// Digest of the bytes given.
        actual: String,
    },
    /// A model could not be parsed, optimised or run.
    #[error("model `{name}` failed: {reason}")]
    Model {
        /// Manifest entry name.
        name: &'static str,
        /// What tract or the loader reported.
        reason: String,
    },
    /// Reading a model file failed.
    #[error("cannot read model file `{path}`: {source}")]
    ModelIo {
        /// The model file (shipped with the library, not user data).
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// There is no vault at the given path.
    #[error("no vault at the given path")]
    VaultMissing,
    /// A vault (or another file) already exists where a new vault was to be created; it was left untouched.
    #[error("a vault already exists at the given path; it was left untouched")]
    VaultExists,
    /// Another process, or another handle in this one, has the vault open.
    #[error("the vault is in use by another process or handle")]
    VaultBusy,
    /// The vault file is not a well-formed vault: empty, truncated, not a vault, or with malformed fields.
    #[error("the vault file is corrupt: {0}")]
    VaultCorrupt(&'static str),
    /// The vault file has a format version this library does not read.
    #[error("unsupported vault format version {0}")]
    VaultUnsupportedVersion(u16),
    /// The vault failed authentication. AES-GCM cannot tell a wrong key from a tampered file, so this is either.
    #[error("the vault cannot be decrypted: wrong key, or the file was tampered with")]
    VaultUnreadable,
    /// Reading, writing, syncing or locking the vault file failed.
    #[error("vault I/O failed ({op}): {source}")]
    VaultIo {
        /// The step that failed.
        op: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A retention period outside `1..=max` days was requested.
    #[error("a retention period of {days} days is not allowed (1 to {max} days)")]
    VaultRetention {
        /// The requested period.
        days: u32,
        /// The longest period allowed.
        max: u32,
    },
    /// An argument to a vault operation is out of range.
    #[error("invalid vault input: {0}")]
    VaultInvalidInput(&'static str),
    /// The picture shows no QR code.
    #[error("no QR code was found in the picture")]
    QrCodeNotFound,
    /// A QR code is in the picture but does not read: blurred, too far away, cut off or in glare.
    #[error("a QR code was seen but could not be read: hold it flat, closer and still, in good light")]
    QrCodeUnreadable,
    /// A QR code read, but it is not a Facecheck enrollment code (the text says why, never what it holds).
    #[error("the QR code is not a Facecheck enrollment code: {0}")]
    NotEnrollmentCode(&'static str),
    /// The vault already holds an enrolled template; erase it before enrolling again.
    #[error("a template is already enrolled; erase it before enrolling again")]
    VaultAlreadyEnrolled,
    /// The vault's template was wiped (after the retention period) but the erasure is not finished: erase the vault
    /// (which signs its receipt and destroys it), delete its key-encryption key, then enroll with a new one.
    #[error("the enrolled face was wiped but the erasure is not finished: erase the vault before enrolling again")]
    VaultErasureDue,
    /// The vault holds no template (never enrolled, erased, or wiped after the retention period).
    #[error("no template is enrolled")]
    VaultNotEnrolled,
    /// A lock-out is in force: check-in compares nothing until it has been served (or, after the last step of
    /// the schedule, until a new enrollment).
    #[error("check-in is locked out after too many failed attempts")]
    VaultLockedOut,
    /// The random number generator or the cipher failed.
    #[error("vault cryptography failed: {0}")]
    VaultCrypto(&'static str),
    /// Enrollment was given too few or too many selfies.
    #[error("enrollment takes {min} to {max} selfies, {given} given")]
    EnrollmentSelfieCount {
        /// Selfies given.
        given: usize,
        /// Fewest accepted.
        min: usize,
        /// Most accepted.
        max: usize,
    },
    /// An enrollment selfie failed a quality gate; the driver should retake it (the message says how).
    #[error("enrollment selfie {selfie} cannot be used: {issue}")]
    EnrollmentRetake {
        /// Position of the selfie, from 1.
        selfie: usize,
        /// The first gate it failed.
        issue: QualityIssue,
    },
    /// The liveness check took an enrollment selfie for a presentation attack (a printed photo, a screen).
    #[error("enrollment selfie {selfie} looks like a photo or a screen, not a live face")]
    EnrollmentSpoofSuspected {
        /// Position of the selfie, from 1.
        selfie: usize,
    },
    /// Two enrollment selfies do not match each other, so they cannot be trusted to show one person.
    #[error("the enrollment selfies do not match each other: take them again, of the driver alone, in the same light")]
    EnrollmentInconsistent,
    /// A selfie or check-in frame could not be read; `source` says why.
    #[error("selfie {index}: {source}")]
    Selfie {
        /// Position of the selfie or frame, from 1.
        index: usize,
        /// The decoding error.
        source: Box<Error>,
    },
    /// A check-in was given no frame, or more than it examines.
    #[error("a check-in takes 1 to {max} frames, {given} given")]
    CheckinFrameCount {
        /// Frames given.
        given: usize,
        /// Most accepted.
        max: usize,
    },
    /// A camera frame (NV21) is not the size it says, or a size this library does not take.
    #[error("invalid camera frame: {0}")]
    InvalidFrame(String),
    /// The frames of one sequence hold more bytes in all than it takes.
    #[error("the frames are {given} bytes in all, more than {max}")]
    FramesTooLarge {
        /// Bytes given.
        given: usize,
        /// Most accepted.
        max: usize,
    },
    /// A frame's capture time is not after the frame before it: frames must come in the order they were taken.
    #[error("frame {index} was not captured after the frame before it")]
    FramesOutOfOrder {
        /// Position of the frame, from 1.
        index: usize,
    },
    /// The server challenge (nonce or block id) is empty or too long.
    #[error("invalid check-in challenge: {0}")]
    InvalidChallenge(&'static str),
    /// The fleet has accepted a higher counter from this device key than the vault holds: the vault was restored
    /// from an older copy (or copied to another phone). Nothing was signed; the driver should enroll again.
    #[error(
        "the vault is older than what the fleet has seen (vault counter {vault_counter}, fleet's last counter \
         {fleet_counter}): it was restored from a backup or copied; nothing was signed, enroll again"
    )]
    VaultRolledBack {
        /// The last counter the vault signed or reserved.
        vault_counter: u64,
        /// The highest counter the fleet accepted from the key.
        fleet_counter: u64,
    },
}

/// Result with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Why a selfie cannot be used. [`QualityIssue::message`] is the advice to show the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityIssue {
    /// No face was found.
    NoFace,
    /// A second face, not much smaller than the main one, is in the picture.
    SeveralFaces,
    /// Part of the face is outside the picture.
    FaceCutOff,
    /// The face is too small (too few pixels) to judge.
    FaceTooSmall,
    /// The face fills so much of the picture that the liveness check has no context around it.
    FaceTooClose,
    /// The head is turned to the side (yaw).
    TurnedAway,
    /// The head is tilted to the side (roll).
    HeadTilted,
    /// The head is tipped up or down (pitch).
    LookingUpOrDown,
    /// The face is too dark.
    TooDark,
    /// The face is overexposed.
    TooBright,
    /// The face is blurred (motion or focus).
    Blurry,
}

impl QualityIssue {
    /// Every issue, in the order the gates check them.
    pub const ALL: [QualityIssue; 11] = [
        QualityIssue::NoFace,
        QualityIssue::SeveralFaces,
        QualityIssue::FaceCutOff,
        QualityIssue::FaceTooSmall,
        QualityIssue::FaceTooClose,
        QualityIssue::TurnedAway,
        QualityIssue::HeadTilted,
        QualityIssue::LookingUpOrDown,
        QualityIssue::TooDark,
        QualityIssue::TooBright,
        QualityIssue::Blurry,
    ];

    /// A stable machine-readable name (`snake_case`), for the app to pick a localised text.
    pub fn code(&self) -> &'static str {
        match self {
            QualityIssue::NoFace => "no_face",
            QualityIssue::SeveralFaces => "several_faces",
            QualityIssue::FaceCutOff => "face_cut_off",
            QualityIssue::FaceTooSmall => "face_too_small",
            QualityIssue::FaceTooClose => "face_too_close",
            QualityIssue::TurnedAway => "turned_away",
            QualityIssue::HeadTilted => "head_tilted",
            QualityIssue::LookingUpOrDown => "looking_up_or_down",
            QualityIssue::TooDark => "too_dark",
            QualityIssue::TooBright => "too_bright",
            QualityIssue::Blurry => "blurry",
        }
    }

    /// What the driver should do, in English.
    pub fn message(&self) -> &'static str {
        match self {
            QualityIssue::NoFace => "No face found: hold the phone in front of your face and look at the screen.",
            QualityIssue::SeveralFaces => "Someone else is in the picture: make sure only your face is in the frame.",
            QualityIssue::FaceCutOff => "Part of your face is outside the picture: centre your face in the frame.",
            QualityIssue::FaceTooSmall => "Your face is too small in the picture: move closer to the camera.",
            QualityIssue::FaceTooClose => "You are too close: hold the phone a little further away.",
            QualityIssue::TurnedAway => "Face the camera: your head is turned to the side.",
            QualityIssue::HeadTilted => "Hold your head straight: it is tilted to one side.",
            QualityIssue::LookingUpOrDown => "Look straight at the camera: your head is tipped up or down.",
            QualityIssue::TooDark => "Too dark: move somewhere brighter or face the light.",
            QualityIssue::TooBright => {
                "Too bright: move out of direct sunlight or away from a bright light behind the camera."
            }
            QualityIssue::Blurry => "The picture is blurred: hold the phone still and wipe the camera lens.",
        }
    }
}

impl std::fmt::Display for QualityIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_have_distinct_codes_and_messages() {
        let mut codes: Vec<&str> = QualityIssue::ALL.iter().map(|i| i.code()).collect();
        let mut messages: Vec<&str> = QualityIssue::ALL.iter().map(|i| i.message()).collect();
        codes.sort_unstable();
        codes.dedup();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!((codes.len(), messages.len()), (QualityIssue::ALL.len(), QualityIssue::ALL.len()));
        assert_eq!(
            serde_json::to_string(&QualityIssue::LookingUpOrDown).expect("serialises"),
            "\"looking_up_or_down\""
        );
        assert_eq!(QualityIssue::Blurry.to_string(), QualityIssue::Blurry.message());
    }
}
