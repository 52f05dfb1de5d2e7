//! Fuzz target: arbitrary bytes through every token parser of facecheck-attest.
//!
//! The entry point lives in the crate's test support so that `tests/fuzz_replay.rs` replays the
//! committed corpus through exactly the same code on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/facecheck-attest/tests/support/fuzz_harness.rs"]
#[allow(dead_code)]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    // Any verdict is fine; a panic (including a failed consistency assertion) is a finding.
    let _ = fuzz_harness::verify_token(data);
});
