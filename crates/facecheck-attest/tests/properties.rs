//! Property tests: a signed token cannot be changed in any way and still verify.

mod support;

use facecheck_attest::{
    verify_attestation, Claims, Expectations, KeyId, LivenessMethod, ManifestDigest, Outcome, Registry, VerifyError,
    ATTESTATION_CLAIMS,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::*;

/// Arbitrary text, control characters and astral-plane characters included.
fn text(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), min..24).prop_map(String::from_iter)
}

/// The outcomes of a check-in: an erasure receipt (`erased`) has a verifier of its own.
const CHECK_IN_OUTCOMES: [Outcome; 6] = [
    Outcome::Match,
    Outcome::NoMatch,
    Outcome::SpoofSuspected,
    Outcome::NoFace,
    Outcome::PoorQuality,
    Outcome::LockedOut,
];

fn arb_claims() -> impl Strategy<Value = Claims> {
    (
        (text(0), text(0), text(0), text(1)),
        (any::<u64>(), any::<u64>(), 0..CHECK_IN_OUTCOMES.len(), any::<bool>(), any::<bool>(), any::<u32>()),
        (any::<[u8; 32]>(), text(0), text(0)),
    )
        .prop_map(|((driver, fleet, block, nonce), (iat, ctr, res, live, active, att), (mdl, pol, ver))| Claims {
            driver,
            fleet,
            block,
            nonce,
            issued_at: iat,
            counter: ctr,
            outcome: CHECK_IN_OUTCOMES[res],
            liveness_passed: live,
            liveness_method: if active { LivenessMethod::Active } else { LivenessMethod::Passive },
            attempts: att,
            model_manifest: ManifestDigest::of_manifest(&mdl),
            policy: pol,
            version: ver,
        })
}

/// Everything a verifier needs to accept `claims` from `device`.
struct Setup {
    registry: Registry,
    claims: Claims,
}

impl Setup {
    fn new(device: &Device, claims: Claims) -> Setup {
        let mut registry = Registry::new();
        registry.add(device.public_key(), claims.driver.clone(), claims.fleet.clone()).expect("fresh");
        Setup { registry, claims }
    }

    fn expected(&self) -> Expectations<'_> {
        Expectations {
            fleet: &self.claims.fleet,
            nonce: &self.claims.nonce,
            driver: None,
            block: None,
            now_unix: self.claims.issued_at,
            skew_secs: 0,
        }
    }

    fn verify(&self, token: &[u8]) -> Result<facecheck_attest::VerifiedAttestation, VerifyError> {
        verify_attestation(token, &self.registry, &self.expected(), None)
    }
}

#[test]
fn every_single_byte_substitution_at_every_position_fails() {
    // Exhaustive: each position of a real token, replaced by each of the 255 other byte values.
    let device = Device::new();
    let setup = Setup::new(&device, claims());
    let token = device.key.sign(&setup.claims);
    assert!(setup.verify(token.as_bytes()).is_ok());
    let mut bytes = token.into_bytes();
    let mut tried = 0usize;
    for position in 0..bytes.len() {
        let original = bytes[position];
        for value in 0..=255u8 {
            if value == original {
                continue;
            }
            bytes[position] = value;
            assert!(setup.verify(&bytes).is_err(), "byte {position} set to {value:#04x} still verifies");
            tried += 1;
        }
        bytes[position] = original;
    }
    assert_eq!(tried, bytes.len() * 255);
    assert!(setup.verify(&bytes).is_ok(), "the original is untouched");
}

#[test]
fn every_deletion_insertion_and_truncation_fails() {
    let device = Device::new();
    let setup = Setup::new(&device, claims());
    let token = device.key.sign(&setup.claims).into_bytes();
    for position in 0..token.len() {
        let mut deleted = token.clone();
        deleted.remove(position);
        assert!(setup.verify(&deleted).is_err(), "deleting byte {position}");
        for inserted in [b'A', b'.', b'=', b'_', b' ', 0] {
            let mut longer = token.clone();
            longer.insert(position, inserted);
            assert!(setup.verify(&longer).is_err(), "inserting {inserted} at {position}");
        }
        assert!(setup.verify(&token[..position]).is_err(), "truncating to {position}");
    }
    for suffix in [&b"A"[..], b".", b"\n", b"=", b"AA"] {
        let mut longer = token.clone();
        longer.extend_from_slice(suffix);
        assert!(setup.verify(&longer).is_err(), "appending {suffix:?}");
    }
}

/// A value for claim `name` that differs from `original` but keeps its type.
fn altered(name: &str, original: &Value, n: u64, bytes: [u8; 32], s: &str) -> Value {
    let other_string = |orig: &str| {
        if s == orig {
            format!("{s}x")
        } else {
            s.to_owned()
        }
    };
    match name {
        "iss" => {
            let kid = KeyId::of_public_key(&bytes);
            if original.as_str() == Some(kid.as_str()) {
                json!(KeyId::of_public_key(&[0x5a; 32]).as_str())
            } else {
                json!(kid.as_str())
            }
        }
        "iat" | "ctr" => {
            let orig = original.as_u64().expect("u64 claim");
            json!(if n == orig { n.wrapping_add(1) } else { n })
        }
        "att" => {
            let orig = original.as_u64().expect("u32 claim") as u32;
            let n = n as u32;
            json!(if n == orig { n.wrapping_add(1) } else { n })
        }
        "live" => json!(!original.as_bool().expect("bool claim")),
        "lvm" => {
            let orig = LivenessMethod::parse(original.as_str().expect("string")).expect("method");
            json!(
                if orig == LivenessMethod::Passive { LivenessMethod::Active } else { LivenessMethod::Passive }.as_str()
            )
        }
        "res" => {
            let orig = Outcome::parse(original.as_str().expect("string")).expect("outcome");
            let index = Outcome::ALL.iter().position(|o| *o == orig).expect("listed");
            let shift = 1 + (n as usize) % (Outcome::ALL.len() - 1);
            json!(Outcome::ALL[(index + shift) % Outcome::ALL.len()].as_str())
        }
        "mdl" => {
            let digest = ManifestDigest::of_manifest(&bytes);
            if original.as_str() == Some(digest.as_str()) {
                json!(ManifestDigest::of_manifest(b"other").as_str())
            } else {
                json!(digest.as_str())
            }
        }
        _ => json!(other_string(original.as_str().expect("string claim"))),
    }
}

/// Re-encodes a payload and splices it between the original header and signature.
fn splice(token: &str, payload: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(&serde_json::to_vec(payload).expect("json")), parts[2])
}

#[test]
fn every_claim_altered_without_resigning_fails() {
    let device = Device::new();
    let setup = Setup::new(&device, claims());
    let token = device.key.sign(&setup.claims);
    let (_, payload, _) = split(&token);
    let kid = device.kid();
    for name in ATTESTATION_CLAIMS {
        let original = payload[name].clone();
        let mut variants = vec![
            altered(name, &original, 7, [3; 32], "other"),
            altered(name, &original, u64::MAX, [9; 32], ""),
            Value::Null,
            json!("1"),
            json!(1),
        ];
        variants.retain(|v| *v != original);
        for value in variants {
            let mut changed = payload.clone();
            changed[name] = value.clone();
            assert_eq!(
                setup.verify(splice(&token, &changed).as_bytes()).unwrap_err(),
                VerifyError::BadSignature { kid: kid.clone() },
                "{name} = {value}"
            );
        }
        let mut removed = payload.clone();
        removed.as_object_mut().expect("object").remove(name);
        assert_eq!(
            setup.verify(splice(&token, &removed).as_bytes()).unwrap_err(),
            VerifyError::BadSignature { kid: kid.clone() }
        );
    }
    // Same claims, different bytes: reordered keys or extra whitespace are not the signed bytes.
    let parts: Vec<&str> = token.split('.').collect();
    let members: Vec<String> =
        ATTESTATION_CLAIMS.iter().rev().map(|name| format!("{}:{}", json!(name), payload[*name])).collect();
    let reordered = format!("{{{}}}", members.join(","));
    assert_ne!(reordered.as_bytes(), unb64(parts[1]));
    let reordered = format!("{}.{}.{}", parts[0], b64(reordered.as_bytes()), parts[2]);
    assert_eq!(setup.verify(reordered.as_bytes()).unwrap_err(), VerifyError::BadSignature { kid: kid.clone() });
    let spaced = String::from_utf8(unb64(parts[1])).expect("utf8").replacen(',', ", ", 1);
    let spaced = format!("{}.{}.{}", parts[0], b64(spaced.as_bytes()), parts[2]);
    assert_eq!(setup.verify(spaced.as_bytes()).unwrap_err(), VerifyError::BadSignature { kid });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_claims_round_trip(claims in arb_claims()) {
        let device = Device::new();
        let setup = Setup::new(&device, claims);
        let token = device.key.sign(&setup.claims);
        let verified = setup.verify(token.as_bytes()).expect("verifies");
        prop_assert_eq!(verified.claims(), &setup.claims);
    }

    #[test]
    fn a_random_byte_substitution_fails(
        claims in arb_claims(),
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let device = Device::new();
        let setup = Setup::new(&device, claims);
        let mut token = device.key.sign(&setup.claims).into_bytes();
        prop_assume!(token.len() <= facecheck_attest::MAX_TOKEN_LEN);
        prop_assert!(setup.verify(&token).is_ok());
        let position = position.index(token.len());
        prop_assume!(token[position] != value);
        token[position] = value;
        prop_assert!(setup.verify(&token).is_err());
    }

    #[test]
    fn a_random_claim_change_fails(
        claims in arb_claims(),
        claim in 0..ATTESTATION_CLAIMS.len(),
        n in any::<u64>(),
        bytes in any::<[u8; 32]>(),
        s in text(0),
    ) {
        let device = Device::new();
        let setup = Setup::new(&device, claims);
        let token = device.key.sign(&setup.claims);
        prop_assume!(token.len() <= facecheck_attest::MAX_TOKEN_LEN);
        let (_, mut payload, _) = split(&token);
        let name = ATTESTATION_CLAIMS[claim];
        let value = altered(name, &payload[name], n, bytes, &s);
        prop_assert_ne!(&value, &payload[name]);
        payload[name] = value;
        prop_assert_eq!(
            setup.verify(splice(&token, &payload).as_bytes()).unwrap_err(),
            VerifyError::BadSignature { kid: device.kid() }
        );
    }
}
