//! Replay protection: the last counter accepted from each device.

use std::collections::BTreeMap;

use super::attestation::{verify_attestation, Expectations, VerifiedAttestation, VerifyError};
use super::erasure::VerifiedErasure;
use super::keys::DeviceKeys;
use crate::wire::json;
use crate::wire::key_id::KeyId;

/// The counter state could not be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CounterStateError {
    /// The text is not a JSON object mapping key ids to unsigned integers (position of the
    /// first problem, 1-based; 0 when the problem is an entry rather than the JSON syntax).
    #[error("counter state JSON is malformed (line {line}, column {column})")]
    Json {
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
    },
}

/// The highest counter accepted so far from each device key.
///
/// JSON form: `{"<key id>": <last ctr>, ...}`, sorted by key id. It only moves forward, and
/// only on a successful verification: [`verify_and_record`](Self::verify_and_record) leaves it
/// untouched when verification fails, and [`record`](Self::record) takes a
/// [`VerifiedAttestation`]. This type does no I/O; persist [`to_json`](Self::to_json) after
/// each change and before acknowledging the check-in, so a crash cannot re-open a counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterState {
    last: BTreeMap<KeyId, u64>,
}

impl CounterState {
    /// A state that has seen nothing.
    pub fn new() -> CounterState {
        CounterState::default()
    }

    /// Loads the state from its JSON text.
    pub fn from_json(text: &str) -> Result<CounterState, CounterStateError> {
        CounterState::from_json_bytes(text.as_bytes())
    }

    /// Loads the state from its JSON bytes (UTF-8).
    pub fn from_json_bytes(bytes: &[u8]) -> Result<CounterState, CounterStateError> {
        let map = json::parse_object(bytes).map_err(|e| CounterStateError::Json { line: e.line, column: e.column })?;
        let entry_error = CounterStateError::Json { line: 0, column: 0 };
        let mut last = BTreeMap::new();
        for (kid, counter) in map {
            let kid = KeyId::parse(&kid).map_err(|_| entry_error)?;
            let counter = counter.as_u64().ok_or(entry_error)?;
            last.insert(kid, counter);
        }
        Ok(CounterState { last })
    }

    /// The state as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.last).expect("a map of strings to integers always serializes")
    }

    /// [`to_json`](Self::to_json) as bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }

    /// The last counter accepted from `kid`, if any.
    pub fn last(&self, kid: &KeyId) -> Option<u64> {
        self.last.get(kid).copied()
    }

    /// Verifies `token` against the device's last counter and, only if everything checks out,
    /// records its counter.
    pub fn verify_and_record(
        &mut self,
        token: impl AsRef<[u8]>,
        keys: &(impl DeviceKeys + ?Sized),
        expected: &Expectations<'_>,
    ) -> Result<VerifiedAttestation, VerifyError> {
        // The counter is the last check `verify_attestation` makes, so verifying without it
        // and then recording gives the same answer as verifying against the recorded counter,
        // without parsing the token twice to learn its key id.
        let verified = verify_attestation(token, keys, expected, None)?;
        self.record(&verified)?;
        Ok(verified)
    }

    /// Records the counter of an attestation verified elsewhere. Fails with
    /// [`VerifyError::CounterNotIncreasing`] (and changes nothing) if the counter is not greater
    /// than the one already recorded, e.g. when two verifications of the same token raced.
    pub fn record(&mut self, verified: &VerifiedAttestation) -> Result<(), VerifyError> {
        self.record_counter(verified.key_id(), verified.counter())
    }

    /// Records the counter of an erasure receipt verified elsewhere, as [`record`](Self::record) does for a check-in
    /// (both share the device's one counter).
    pub fn record_erasure(&mut self, verified: &VerifiedErasure) -> Result<(), VerifyError> {
        self.record_counter(verified.key_id(), verified.counter())
    }

    fn record_counter(&mut self, kid: &KeyId, counter: u64) -> Result<(), VerifyError> {
        match self.last.get(kid) {
            Some(&last) if counter <= last => Err(VerifyError::CounterNotIncreasing { kid: kid.clone() }),
            _ => {
                self.last.insert(kid.clone(), counter);
                Ok(())
            }
        }
    }
}
