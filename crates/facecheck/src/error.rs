//! The one error type of the core.
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
}

/// Result with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
