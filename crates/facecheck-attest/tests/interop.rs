//! Interoperability with an independent JOSE implementation: PyJWT with `cryptography`'s
//! Ed25519, driven through `scripts/interop/jose_interop.py`.
//!
//! These tests need `python3` with the packages in `scripts/interop/requirements.txt`. They fail
//! (never skip) when those are missing, so CI cannot silently lose the cross-check.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use facecheck_attest::{
    verify_attestation, verify_erasure_receipt, verify_registration, Claims, ErasureExpectations, Outcome,
    RegistrationClaims, RegistrationExpectations, Registry, VerifyError, REGISTRATION_PURPOSE,
};
use serde_json::{json, Value};
use support::*;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/interop/jose_interop.py")
}

/// Fails the test with installation advice unless python3, PyJWT and cryptography are usable.
fn require_python() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let advice = "the JOSE interop tests need python3 with PyJWT and cryptography: \
                      pip install -r scripts/interop/requirements.txt";
        let output = Command::new("python3")
            .args(["-c", "import jwt, cryptography; print(jwt.__version__, cryptography.__version__)"])
            .output()
            .map_err(|e| format!("cannot run python3 ({e}); {advice}"))?;
        if !output.status.success() {
            return Err(format!("{advice}\n{}", String::from_utf8_lossy(&output.stderr)));
        }
        if !script().is_file() {
            return Err(format!("missing {}", script().display()));
        }
        Ok(())
    });
    if let Err(message) = check {
        panic!("{message}");
    }
}

/// Runs the helper; returns its JSON output on success, or its stderr on exit status 1.
fn helper(args: &[&str]) -> Result<Value, String> {
    require_python();
    let output = Command::new("python3").arg(script()).args(args).output().expect("python3 ran a moment ago");
    match output.status.code() {
        Some(0) => Ok(serde_json::from_slice(&output.stdout).expect("the helper prints JSON")),
        Some(1) => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        other => panic!("jose_interop.py {args:?} exited with {other:?}: {}", String::from_utf8_lossy(&output.stderr)),
    }
}

fn str_field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_else(|| panic!("helper output lacks {name}: {value}"))
}

fn public_key_from(text: &str) -> [u8; 32] {
    unb64(text).try_into().expect("32-byte key")
}

fn claims_json(claims: &Claims) -> String {
    serde_json::to_string(claims).expect("claims serialize")
}

fn varied_claims() -> Vec<Claims> {
    let mut all = vec![claims()];
    let mut c = claims();
    c.outcome = Outcome::SpoofSuspected;
    c.liveness_passed = false;
    c.counter = u64::MAX;
    c.attempts = u32::MAX;
    c.block = "quart de nuit — 🚚 \"B\" \\ 3".into();
    all.push(c);
    let mut c = claims();
    c.outcome = Outcome::Erased;
    c.attempts = 0;
    c.policy = String::new();
    all.push(c);
    all
}

#[test]
fn tokens_signed_here_verify_with_pyjwt() {
    let device = Device::new();
    for claims in varied_claims() {
        let token = device.key.sign(&claims);
        let out = helper(&["verify", &token, &b64(&device.public_key())])
            .unwrap_or_else(|e| panic!("PyJWT rejected our token: {e}"));
        assert_eq!(out["header"], device.header());
        assert_eq!(out["payload"], device.payload(&claims));
    }
}

#[test]
fn pyjwt_rejects_tampered_tokens_signed_here() {
    let device = Device::new();
    let token = device.key.sign(&claims());
    let mut forged = claims();
    forged.outcome = Outcome::NoMatch;
    let forged_payload = b64(&serde_json::to_vec(&device.payload(&forged)).expect("json"));
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert!(helper(&["verify", &tampered, &b64(&device.public_key())]).is_err());
    // And with the wrong public key.
    let other = Device::new();
    assert!(helper(&["verify", &token, &b64(&other.public_key())]).is_err());
}

#[test]
fn tokens_signed_by_pyjwt_verify_here() {
    for claims in varied_claims() {
        let out = helper(&["sign", &claims_json(&claims)]).expect("PyJWT signs");
        let public_key = public_key_from(str_field(&out, "public_key"));
        let mut registry = Registry::new();
        let kid = registry.add(public_key, DRIVER, FLEET).expect("fresh");
        assert_eq!(kid.as_str(), str_field(&out, "kid"), "both sides derive the same kid");

        let token = str_field(&out, "token");
        if claims.is_erasure_receipt() {
            let expected = ErasureExpectations { fleet: FLEET, now_unix: NOW, max_age_secs: SKEW, skew_secs: SKEW };
            let verified = verify_erasure_receipt(token, &registry, &expected, None)
                .unwrap_or_else(|e| panic!("our verifier rejected PyJWT's receipt: {e}"));
            assert_eq!(verified.claims(), &claims);
            continue;
        }
        let verified = verify_attestation(token, &registry, &expected(), None)
            .unwrap_or_else(|e| panic!("our verifier rejected PyJWT's token: {e}"));
        assert_eq!(verified.claims(), &claims);
        assert_eq!(verified.key_id(), &kid);

        // Tampering with PyJWT's token is caught here too.
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: Value = serde_json::from_slice(&unb64(parts[1])).expect("json");
        payload["ctr"] = json!(claims.counter.wrapping_add(1));
        let tampered = format!("{}.{}.{}", parts[0], b64(&serde_json::to_vec(&payload).expect("json")), parts[2]);
        assert_eq!(
            verify_attestation(&tampered, &registry, &expected(), None).unwrap_err(),
            VerifyError::BadSignature { kid }
        );
    }
}

#[test]
fn other_algorithms_made_by_pyjwt_are_rejected() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let payload = device.payload(&claims()).to_string();
    let public_key = b64(&device.public_key());
    for (alg, header_alg) in
        [("none", "none"), ("HS256", "HS256"), ("HS256-b64", "HS256"), ("RS256", "RS256"), ("ES256", "ES256")]
    {
        let out = helper(&["sign-alg", alg, &payload, device.kid().as_str(), &public_key])
            .unwrap_or_else(|e| panic!("PyJWT could not make an {alg} token: {e}"));
        let token = str_field(&out, "token");
        let header: Value = serde_json::from_slice(&unb64(token.split('.').next().expect("header"))).expect("json");
        assert_eq!(header["alg"], json!(header_alg));
        assert_eq!(header["kid"], json!(device.kid().as_str()));
        assert_eq!(
            verify_attestation(token, &registry, &expected(), None).unwrap_err(),
            VerifyError::UnsupportedAlgorithm,
            "{alg}"
        );
        // And PyJWT itself, asked for EdDSA only, refuses them as well.
        assert!(helper(&["verify", token, &public_key]).is_err(), "{alg}");
    }
}

#[test]
fn registration_statements_interoperate() {
    let expectations = RegistrationExpectations {
        fleet: FLEET,
        driver: Some(DRIVER),
        now_unix: NOW,
        skew_secs: SKEW,
        max_age_secs: SKEW,
    };
    let claims = RegistrationClaims {
        driver: DRIVER.into(),
        fleet: FLEET.into(),
        model_manifest: manifest(),
        issued_at: NOW,
        enrollment_code: None,
        consent: None,
    };

    // Ours, checked by PyJWT with the key from the statement's own jwk header.
    let device = Device::new();
    let token = device.key.sign_registration(&claims);
    let out = helper(&["verify-registration", &token]).unwrap_or_else(|e| panic!("PyJWT: {e}"));
    assert_eq!(out["header"]["kid"], json!(device.kid().as_str()));
    assert_eq!(out["header"]["jwk"]["x"], json!(b64(&device.public_key())));
    assert_eq!(out["payload"]["pur"], json!(REGISTRATION_PURPOSE));
    assert_eq!(out["payload"]["sub"], json!(DRIVER));

    // PyJWT's, checked here, registered, and then its check-ins verify.
    let payload = json!({
        "pur": REGISTRATION_PURPOSE,
        "sub": DRIVER,
        "aud": FLEET,
        "mdl": manifest().as_str(),
        "iat": NOW,
    });
    let out = helper(&["sign-registration", &payload.to_string()]).expect("PyJWT signs");
    let verified = verify_registration(str_field(&out, "token"), &expectations)
        .unwrap_or_else(|e| panic!("our verifier rejected PyJWT's registration: {e}"));
    assert_eq!(verified.public_key(), &public_key_from(str_field(&out, "public_key")));
    assert_eq!(verified.key_id().as_str(), str_field(&out, "kid"));
    assert_eq!(verified.claims(), &claims);
    let mut registry = Registry::new();
    registry.register(&verified).expect("fresh");
    assert_eq!(registry.lookup(verified.key_id()).expect("registered").driver(), DRIVER);
}
