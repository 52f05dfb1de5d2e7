//! The Facecheck fleet service.
