//! The device registry and the counter state: JSON forms, edits, and their effect on
//! verification.

mod support;

use facecheck_attest::{CounterState, CounterStateError, KeyId, Registry, RegistryError, VerifyError};
use serde_json::{json, Value};
use support::*;

// ---- Registry -----------------------------------------------------------------------------------

#[test]
fn registry_json_has_the_documented_shape_and_round_trips() {
    let a = Device::new();
    let b = Device::new();
    let mut registry = Registry::new();
    assert!(registry.is_empty());
    registry.add(a.public_key(), DRIVER, FLEET).expect("fresh");
    registry.add(b.public_key(), "driver-9", "fleet-2").expect("fresh");
    registry.revoke(&b.kid()).expect("registered");
    assert_eq!(registry.len(), 2);

    let text = registry.to_json();
    let value: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        value,
        json!({
            a.kid().as_str(): {"public_key": b64(&a.public_key()), "driver": DRIVER, "fleet": FLEET, "revoked": false},
            b.kid().as_str(): {"public_key": b64(&b.public_key()), "driver": "driver-9", "fleet": "fleet-2", "revoked": true},
        })
    );
    assert_eq!(Registry::from_json(&text).expect("loads"), registry);
    assert_eq!(Registry::from_json_bytes(&registry.to_json_bytes()).expect("loads"), registry);
    assert_eq!(Registry::from_json("{}").expect("loads"), Registry::new());

    let entry = registry.lookup(&b.kid()).expect("registered");
    assert_eq!(entry.public_key(), &b.public_key());
    assert_eq!(entry.driver(), "driver-9");
    assert_eq!(entry.fleet(), "fleet-2");
    assert!(entry.is_revoked());
    let kids: Vec<&KeyId> = registry.iter().map(|(kid, _)| kid).collect();
    let mut sorted = kids.clone();
    sorted.sort();
    assert_eq!(kids, sorted, "iteration is in key id order");
}

#[test]
fn a_hand_written_registry_is_accepted_and_verifies() {
    let device = Device::new();
    let text = format!(
        r#"{{ "{}": {{ "revoked": false, "fleet": "{FLEET}", "driver": "{DRIVER}", "public_key": "{}" }} }}"#,
        device.kid(),
        b64(&device.public_key())
    );
    let registry = Registry::from_json(&text).expect("loads");
    assert!(facecheck_attest::verify_attestation(device.key.sign(&claims()), &registry, &expected(), None).is_ok());
}

#[test]
fn adding_a_key_twice_is_refused_even_after_revocation() {
    let device = Device::new();
    let mut registry = registry_of(&[&device]);
    assert_eq!(
        registry.add(device.public_key(), "driver-other", FLEET),
        Err(RegistryError::AlreadyRegistered { kid: device.kid() })
    );
    registry.revoke(&device.kid()).expect("registered");
    registry.revoke(&device.kid()).expect("revoking twice is a no-op");
    assert_eq!(
        registry.add(device.public_key(), DRIVER, FLEET),
        Err(RegistryError::AlreadyRegistered { kid: device.kid() })
    );
    assert!(registry.lookup(&device.kid()).expect("kept").is_revoked());
}

#[test]
fn revoking_an_unknown_key_is_an_error() {
    let device = Device::new();
    let mut registry = Registry::new();
    assert_eq!(registry.revoke(&device.kid()), Err(RegistryError::UnknownKey { kid: device.kid() }));
    assert!(registry.lookup(&device.kid()).is_none());
}

#[test]
fn malformed_registry_json_is_rejected() {
    let device = Device::new();
    let other = Device::new();
    let kid = device.kid();
    let pk = b64(&device.public_key());
    let entry =
        |public_key: &str| json!({"public_key": public_key, "driver": DRIVER, "fleet": FLEET, "revoked": false});

    assert!(matches!(Registry::from_json("not json"), Err(RegistryError::Json { line: 1, .. })));
    assert!(matches!(Registry::from_json("[]"), Err(RegistryError::Json { .. })));
    assert!(matches!(Registry::from_json("{\n}\n{"), Err(RegistryError::Json { line: 3, .. })));
    // The same kid twice: a last-wins loader would silently pick one.
    let twice = format!(r#"{{"{kid}": {e}, "{kid}": {e}}}"#, e = entry(&pk));
    assert!(matches!(Registry::from_json(&twice), Err(RegistryError::Json { .. })));
    // Entry shapes: unknown field, missing field, wrong type.
    let mut extra = entry(&pk);
    extra["private_key"] = json!("oops");
    let mut missing = entry(&pk);
    missing.as_object_mut().expect("object").remove("revoked");
    let mut wrong = entry(&pk);
    wrong["revoked"] = json!("no");
    for bad in [extra, missing, wrong] {
        let text = json!({kid.as_str(): bad}).to_string();
        assert_eq!(Registry::from_json(&text), Err(RegistryError::Json { line: 0, column: 0 }));
    }

    let text = json!({"not-a-kid": entry(&pk)}).to_string();
    assert_eq!(Registry::from_json(&text), Err(RegistryError::InvalidKeyId));

    for bad_key in [String::new(), b64(&[1u8; 31]), format!("{pk}="), pk.replace('-', "+").replace('_', "/") + "A"] {
        let text = json!({kid.as_str(): entry(&bad_key)}).to_string();
        assert_eq!(
            Registry::from_json(&text),
            Err(RegistryError::InvalidPublicKey { kid: kid.clone() }),
            "{bad_key:?}"
        );
    }

    // The kid of one key with the public key of another.
    let text = json!({kid.as_str(): entry(&b64(&other.public_key()))}).to_string();
    assert_eq!(Registry::from_json(&text), Err(RegistryError::KeyIdMismatch { kid: kid.clone() }));
}

#[test]
fn registry_errors_name_at_most_a_key_id() {
    let device = Device::new();
    let text = json!({device.kid().as_str(): {"public_key": "x", "driver": "secret-driver", "fleet": FLEET, "revoked": false}}).to_string();
    let shown = Registry::from_json(&text).unwrap_err().to_string();
    assert!(shown.contains(device.kid().as_str()));
    assert!(!shown.contains("secret-driver"));
    let shown = Registry::from_json(r#"{"secret-driver": 1}"#).unwrap_err().to_string();
    assert!(!shown.contains("secret-driver"));
}

// ---- Counter state --------------------------------------------------------------------------------

fn token_with_counter(device: &Device, counter: u64) -> String {
    let mut claims = claims();
    claims.counter = counter;
    device.key.sign(&claims)
}

#[test]
fn counters_advance_only_on_success() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut state = CounterState::new();
    assert_eq!(state.last(&device.kid()), None);

    let verified = state.verify_and_record(token_with_counter(&device, 3), &registry, &expected()).expect("verifies");
    assert_eq!(verified.counter(), 3);
    assert_eq!(state.last(&device.kid()), Some(3));

    // Replay of the same token, and an older one: rejected, state unchanged.
    for counter in [3, 2, 0] {
        assert_eq!(
            state.verify_and_record(token_with_counter(&device, counter), &registry, &expected()),
            Err(VerifyError::CounterNotIncreasing { kid: device.kid() })
        );
        assert_eq!(state.last(&device.kid()), Some(3));
    }

    // A failure for another reason, with a higher counter, does not move the counter either.
    let mut claims = claims();
    claims.counter = 100;
    claims.nonce = "wrong".into();
    assert!(matches!(
        state.verify_and_record(device.key.sign(&claims), &registry, &expected()),
        Err(VerifyError::NonceMismatch { .. })
    ));
    assert_eq!(state.last(&device.kid()), Some(3));

    // Gaps are fine; the counter only has to increase.
    state.verify_and_record(token_with_counter(&device, 10), &registry, &expected()).expect("verifies");
    assert_eq!(state.last(&device.kid()), Some(10));
}

#[test]
fn counters_are_per_device() {
    let a = Device::new();
    let b = Device::new();
    let registry = registry_of(&[&a, &b]);
    let mut state = CounterState::new();
    state.verify_and_record(token_with_counter(&a, 7), &registry, &expected()).expect("a");
    state.verify_and_record(token_with_counter(&b, 1), &registry, &expected()).expect("b");
    assert_eq!(state.last(&a.kid()), Some(7));
    assert_eq!(state.last(&b.kid()), Some(1));
}

#[test]
fn record_refuses_a_counter_that_does_not_increase() {
    // Two verifications of the same token that raced past `verify_attestation`.
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let token = token_with_counter(&device, 4);
    let first = facecheck_attest::verify_attestation(&token, &registry, &expected(), None).expect("ok");
    let second = facecheck_attest::verify_attestation(&token, &registry, &expected(), None).expect("ok");
    let mut state = CounterState::new();
    state.record(&first).expect("first record");
    assert_eq!(state.record(&second), Err(VerifyError::CounterNotIncreasing { kid: device.kid() }));
    assert_eq!(state.last(&device.kid()), Some(4));
}

#[test]
fn counter_state_json_round_trips() {
    let a = Device::new();
    let b = Device::new();
    let registry = registry_of(&[&a, &b]);
    let mut state = CounterState::new();
    state.verify_and_record(token_with_counter(&a, u64::MAX), &registry, &expected()).expect("a");
    state.verify_and_record(token_with_counter(&b, 0), &registry, &expected()).expect("b");
    let text = state.to_json();
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json"),
        json!({a.kid().as_str(): u64::MAX, b.kid().as_str(): 0})
    );
    let loaded = CounterState::from_json(&text).expect("loads");
    assert_eq!(loaded, state);
    assert_eq!(CounterState::from_json_bytes(&state.to_json_bytes()).expect("loads"), state);
    assert_eq!(CounterState::from_json("{}").expect("loads"), CounterState::new());
    // A reloaded state still refuses replays.
    let mut loaded = loaded;
    assert!(matches!(
        loaded.verify_and_record(token_with_counter(&b, 0), &registry, &expected()),
        Err(VerifyError::CounterNotIncreasing { .. })
    ));
}

#[test]
fn malformed_counter_state_is_rejected() {
    let kid = Device::new().kid();
    for bad in [
        "".to_owned(),
        "[]".to_owned(),
        "{".to_owned(),
        json!({"not-a-kid": 1}).to_string(),
        json!({kid.as_str(): -1}).to_string(),
        json!({kid.as_str(): 1.5}).to_string(),
        json!({kid.as_str(): "1"}).to_string(),
        format!(r#"{{"{kid}": 1, "{kid}": 2}}"#),
    ] {
        assert!(matches!(CounterState::from_json(&bad), Err(CounterStateError::Json { .. })), "{bad:?}");
    }
    assert_eq!(
        CounterState::from_json(&json!({"not-a-kid": 1}).to_string()),
        Err(CounterStateError::Json { line: 0, column: 0 })
    );
}
