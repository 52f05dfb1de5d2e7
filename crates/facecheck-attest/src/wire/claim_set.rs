//! The strict claim-set check every payload parser of this crate runs before deserializing.

use serde_json::{Map, Value};

use super::jws::Malformed;

/// Checks that `map` has the claims in `required`, possibly some of `optional`, nothing else, and that `valid`
/// accepts each value. The first problem is reported: an unexpected name, then the required claims in order
/// (missing or invalid), then the optional ones.
pub(crate) fn check_claim_set(
    map: &Map<String, Value>,
    required: &[&'static str],
    optional: &[&'static str],
    valid: fn(&str, &Value) -> bool,
) -> Result<(), Malformed> {
    if map.keys().any(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str())) {
        return Err(Malformed::UnexpectedClaim);
    }
    for &name in required {
        match map.get(name) {
            None => return Err(Malformed::MissingClaim(name)),
            Some(value) if !valid(name, value) => return Err(Malformed::InvalidClaim(name)),
            Some(_) => {}
        }
    }
    for &name in optional {
        if map.get(name).is_some_and(|value| !valid(name, value)) {
            return Err(Malformed::InvalidClaim(name));
        }
    }
    Ok(())
}
