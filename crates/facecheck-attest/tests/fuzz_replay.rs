//! Stable-Rust stand-in for fuzzing: replays the committed `fuzz/corpus/verify_token` seeds and
//! a bounded, seeded stream of random and structured inputs through the fuzz harness.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use facecheck_attest::{Malformed, Outcome, Part, VerifyError, REGISTRATION_PURPOSE};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};
use support::fuzz_harness::{self as harness, verify_token};
use support::{b64, sign_with};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/verify_token")
}

fn header(seed: &[u8; 32]) -> Value {
    json!({"alg": "EdDSA", "typ": "fc-attestation+jwt", "kid": harness::key_id(seed).as_str()})
}

fn payload(seed: &[u8; 32]) -> Value {
    json!({
        "iss": harness::key_id(seed).as_str(),
        "sub": harness::DRIVER,
        "aud": harness::FLEET,
        "blk": "block-1",
        "nonce": harness::NONCE,
        "iat": harness::NOW,
        "ctr": harness::LAST_COUNTER + 1,
        "res": "match",
        "live": true,
        "lvm": "passive",
        "att": 1,
        "mdl": "5f0c4e1f1b3ad6c8c6f2d0b0a2e7c3b4d5e6f708192a3b4c5d6e7f8091a2b3c4",
        "pol": "fmr-1e-4",
        "ver": "0.1.0",
    })
}

fn signed(seed: &[u8; 32], header: &Value, payload: &Value) -> Vec<u8> {
    sign_with(
        &harness::key_pair(seed),
        &serde_json::to_vec(header).expect("json"),
        &serde_json::to_vec(payload).expect("json"),
    )
    .into_bytes()
}

fn with(mut value: Value, name: &str, new: Value) -> Value {
    value[name] = new;
    value
}

fn without(mut value: Value, name: &str) -> Value {
    value.as_object_mut().expect("object").remove(name);
    value
}

/// The named seeds and the verdict each must get.
fn seeds() -> Vec<(&'static str, Vec<u8>, Result<(), VerifyError>)> {
    let dev = &harness::DEVICE_SEED;
    let kid = harness::key_id(dev);
    let h = header(dev);
    let p = payload(dev);
    let err = |e: VerifyError| Err(e);
    let bad = |m: Malformed| Err(VerifyError::Malformed(m));

    let valid = signed(dev, &h, &p);
    let valid_text = String::from_utf8(valid.clone()).expect("ascii");
    let (signing_input, _) = valid_text.rsplit_once('.').expect("three segments");

    let hs256 = {
        let header = with(h.clone(), "alg", json!("HS256"));
        let input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).expect("json")),
            b64(&serde_json::to_vec(&p).expect("json"))
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &harness::public_key(dev));
        format!("{input}.{}", b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())).into_bytes()
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::to_vec(&with(h.clone(), "alg", json!("none"))).expect("json")),
        b64(&serde_json::to_vec(&p).expect("json"))
    )
    .into_bytes();
    let registration = signed(
        dev,
        &json!({
            "alg": "EdDSA",
            "typ": "fc-registration+jwt",
            "kid": kid.as_str(),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(&harness::public_key(dev))},
        }),
        &json!({
            "pur": REGISTRATION_PURPOSE,
            "sub": harness::DRIVER,
            "aud": harness::FLEET,
            "mdl": p["mdl"],
            "iat": harness::NOW,
        }),
    );
    let repeated_claim = sign_with(
        &harness::key_pair(dev),
        &serde_json::to_vec(&h).expect("json"),
        serde_json::to_string(&p).expect("json").replacen('{', "{\"res\":\"no_match\",", 1).as_bytes(),
    )
    .into_bytes();
    let other = |seed: &[u8; 32]| signed(seed, &header(seed), &payload(seed));
    let unregistered = harness::key_id(&harness::UNREGISTERED_SEED);
    let revoked = harness::key_id(&harness::REVOKED_SEED);
    let elsewhere = harness::key_id(&harness::OTHER_FLEET_SEED);
    let mut padded = valid.clone();
    let dot = padded.iter().position(|&b| b == b'.').expect("dot");
    padded.insert(dot, b'=');

    vec![
        ("valid_checkin.jwt", valid.clone(), Ok(())),
        (
            "valid_erasure_receipt.jwt",
            signed(dev, &h, &with(with(p.clone(), "res", json!(Outcome::Erased.as_str())), "live", json!(false))),
            err(VerifyError::NotACheckIn { kid: kid.clone() }),
        ),
        (
            "replayed_counter.jwt",
            signed(dev, &h, &with(p.clone(), "ctr", json!(harness::LAST_COUNTER))),
            err(VerifyError::CounterNotIncreasing { kid: kid.clone() }),
        ),
        ("alg_none.jwt", alg_none, err(VerifyError::UnsupportedAlgorithm)),
        ("alg_hs256_public_key.jwt", hs256, err(VerifyError::UnsupportedAlgorithm)),
        ("registration_statement.jwt", registration, err(VerifyError::WrongTokenType)),
        ("unknown_key.jwt", other(&harness::UNREGISTERED_SEED), err(VerifyError::UnknownKey { kid: unregistered })),
        ("revoked_key.jwt", other(&harness::REVOKED_SEED), err(VerifyError::RevokedKey { kid: revoked })),
        (
            "other_fleet_device.jwt",
            other(&harness::OTHER_FLEET_SEED),
            err(VerifyError::DeviceNotInFleet { kid: elsewhere }),
        ),
        (
            "bad_signature.jwt",
            format!("{signing_input}.{}", b64(&[0x42; 64])).into_bytes(),
            err(VerifyError::BadSignature { kid: kid.clone() }),
        ),
        ("extra_claim.jwt", signed(dev, &h, &with(p.clone(), "score", json!(0.97))), bad(Malformed::UnexpectedClaim)),
        ("missing_claim.jwt", signed(dev, &h, &without(p.clone(), "ctr")), bad(Malformed::MissingClaim("ctr"))),
        ("repeated_claim.jwt", repeated_claim, bad(Malformed::Json(Part::Payload))),
        (
            "wrong_claim_type.jwt",
            signed(dev, &h, &with(p.clone(), "live", json!("yes"))),
            bad(Malformed::InvalidClaim("live")),
        ),
        (
            "issuer_mismatch.jwt",
            signed(dev, &h, &with(p.clone(), "iss", json!(harness::key_id(&harness::REVOKED_SEED).as_str()))),
            err(VerifyError::IssuerMismatch { kid: kid.clone() }),
        ),
        (
            "driver_mismatch.jwt",
            signed(dev, &h, &with(p.clone(), "sub", json!("driver-other"))),
            err(VerifyError::DriverMismatch { kid: kid.clone() }),
        ),
        (
            "audience_mismatch.jwt",
            signed(dev, &h, &with(p.clone(), "aud", json!("fleet-other"))),
            err(VerifyError::AudienceMismatch { kid: kid.clone() }),
        ),
        (
            "nonce_mismatch.jwt",
            signed(dev, &h, &with(p.clone(), "nonce", json!("nonce-old"))),
            err(VerifyError::NonceMismatch { kid: kid.clone() }),
        ),
        (
            "stale.jwt",
            signed(dev, &h, &with(p.clone(), "iat", json!(harness::NOW - harness::SKEW - 1))),
            err(VerifyError::Stale { kid: kid.clone() }),
        ),
        (
            "future.jwt",
            signed(dev, &h, &with(p.clone(), "iat", json!(harness::NOW + harness::SKEW + 1))),
            err(VerifyError::IssuedInFuture { kid: kid.clone() }),
        ),
        ("padded_base64.jwt", padded, bad(Malformed::Base64(Part::Header))),
        ("two_segments.jwt", signing_input.as_bytes().to_vec(), bad(Malformed::Segments)),
        ("empty", Vec::new(), bad(Malformed::Segments)),
        ("not_utf8.bin", vec![0xff, 0xfe, b'.', 0xc3, b'.', 0x28], bad(Malformed::Base64(Part::Header))),
    ]
}

#[test]
fn named_seeds_get_their_verdicts_and_are_committed() {
    let dir = corpus_dir();
    let write = std::env::var_os("FACECHECK_WRITE_FUZZ_CORPUS").is_some();
    if write {
        std::fs::create_dir_all(&dir).expect("create corpus dir");
    }
    for (name, bytes, expected) in seeds() {
        let verdict = verify_token(&bytes).map(|_| ());
        assert_eq!(verdict, expected, "generated seed {name}");
        let path = dir.join(name);
        if write {
            std::fs::write(&path, &bytes).expect("write seed");
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("seed {} is missing ({e}); regenerate with FACECHECK_WRITE_FUZZ_CORPUS=1", path.display())
        });
        assert_eq!(verify_token(&committed).map(|_| ()), expected, "committed seed {name}");
    }
}

#[test]
fn the_whole_corpus_replays_without_panic() {
    let mut verdicts = BTreeMap::new();
    let entries = std::fs::read_dir(corpus_dir()).expect("fuzz/corpus/verify_token exists");
    for entry in entries {
        let path = entry.expect("readable corpus dir").path();
        let bytes = std::fs::read(&path).expect("readable seed");
        let verdict = verify_token(&bytes);
        verdicts.insert(path.file_name().expect("file").to_owned(), verdict.is_ok());
    }
    assert!(verdicts.len() >= seeds().len(), "the committed corpus has every named seed");
    assert_eq!(verdicts.values().filter(|ok| **ok).count(), 1, "only the valid check-in seed verifies as a check-in");
}

fn seeded_runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn twenty_thousand_random_byte_strings() {
    let mut runner = seeded_runner(20_000);
    let inputs = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(any::<u8>(), 0..2048),
        // Mostly base64url characters and dots, which get past the first checks more often.
        prop::collection::vec(
            prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_..=".to_vec()),
            0..512,
        ),
    ];
    runner
        .run(&inputs, |data| {
            prop_assert!(verify_token(&data).is_err());
            Ok(())
        })
        .expect("no random input panics or verifies");
}

#[test]
fn mutated_seeds() {
    let seeds: Vec<Vec<u8>> = seeds().into_iter().map(|(_, bytes, _)| bytes).collect();
    let valid = seeds[0].clone();
    let mut runner = seeded_runner(10_000);
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..5);
    runner
        .run(&(0..seeds.len(), edits), |(which, edits)| {
            let mut data = seeds[which].clone();
            for (at, byte, kind) in edits {
                match (kind, data.is_empty()) {
                    (0, false) => {
                        let i = at.index(data.len());
                        data[i] = byte;
                    }
                    (1, _) => {
                        let i = at.index(data.len() + 1);
                        data.insert(i, byte);
                    }
                    (_, false) => {
                        data.remove(at.index(data.len()));
                    }
                    _ => {}
                }
            }
            let verdict = verify_token(&data);
            if verdict.is_ok() {
                // Only an edit that restored a valid seed byte for byte may verify.
                prop_assert!(data == valid || data == seeds[1]);
            }
            Ok(())
        })
        .expect("no mutated seed panics or verifies");
}

#[test]
fn token_shaped_inputs_signed_by_the_registered_key() {
    // Correctly signed by the registered device, with random headers and claims, so that the
    // claim parser and every check after the signature see arbitrary input.
    let pair: Ed25519KeyPair = harness::key_pair(&harness::DEVICE_SEED);
    let base_header = header(&harness::DEVICE_SEED);
    let base_payload = payload(&harness::DEVICE_SEED);
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z_]{0,12}".prop_map(Value::from),
        Just(json!("EdDSA")),
        Just(json!("match")),
        Just(json!([])),
        Just(json!({})),
    ];
    let names = prop::sample::select(vec![
        "alg", "typ", "kid", "jwk", "iss", "sub", "aud", "blk", "nonce", "iat", "ctr", "res", "live", "lvm", "att",
        "mdl", "pol", "ver", "pur", "crit", "score",
    ]);
    let edit = (names, prop::option::of(scalar), any::<bool>());
    let mut runner = seeded_runner(5_000);
    runner
        .run(&prop::collection::vec(edit, 0..4), |edits| {
            let mut header = base_header.clone();
            let mut payload = base_payload.clone();
            for (name, value, in_header) in &edits {
                let target = if *in_header { &mut header } else { &mut payload };
                let object = target.as_object_mut().expect("object");
                match value {
                    Some(value) => {
                        object.insert((*name).to_owned(), value.clone());
                    }
                    None => {
                        object.remove(*name);
                    }
                }
            }
            let token = sign_with(
                &pair,
                &serde_json::to_vec(&header).expect("json"),
                &serde_json::to_vec(&payload).expect("json"),
            );
            if let Ok(verified) = verify_token(token.as_bytes()) {
                // Validly signed claims may differ in what the verifier does not pin down, but
                // the header and every checked claim must be the expected ones, and the verified
                // claims must be exactly the signed ones.
                prop_assert_eq!(&header, &base_header);
                for pinned in ["iss", "sub", "aud", "nonce"] {
                    prop_assert_eq!(&payload[pinned], &base_payload[pinned]);
                }
                let mut seen = serde_json::to_value(verified.claims()).expect("json");
                seen["iss"] = json!(verified.key_id().as_str());
                prop_assert_eq!(&seen, &payload);
            }
            Ok(())
        })
        .expect("no token-shaped input panics, and what verifies is what was signed");
}
