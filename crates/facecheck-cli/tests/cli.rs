//! The device and fleet commands end to end, running the built `facecheck` binary in a temp directory: keygen →
//! enroll → registry add → checkin → attest verify (and a replay) → a no-match → erase → receipt.

mod common;

use common::{fixture, TempDir};

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `facecheck args...` in `dir`, with `stdin` piped in if given.
fn run(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_facecheck"))
        .args(args)
        .current_dir(&dir.0)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(text) = stdin {
        child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("writes stdin");
    }
    child.wait_with_output().expect("the binary finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8").trim().to_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8")
}

/// Runs and expects success; returns stdout.
fn ok(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> String {
    let output = run(dir, args, stdin);
    assert!(output.status.success(), "facecheck {args:?} failed: {}", stderr(&output));
    stdout(&output)
}

/// Runs and expects failure; returns stderr.
fn fails(dir: &TempDir, args: &[&str]) -> String {
    let output = run(dir, args, None);
    assert!(!output.status.success(), "facecheck {args:?} succeeded: {}", stdout(&output));
    assert!(output.stdout.is_empty(), "a failure prints nothing on stdout: {}", stdout(&output));
    stderr(&output)
}

fn claims(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
}

#[test]
fn keygen_enroll_register_checkin_verify_replay_erase() {
    let dir = TempDir::new("e2e");
    let vault = ["--vault", "driver.vault", "--key-file", "vault.key"];

    // keygen: a private 32-byte key, never overwritten.
    ok(&dir, &["keygen", "--out", "vault.key"], None);
    let key_path = dir.0.join("vault.key");
    let key = std::fs::read(&key_path).expect("the key file");
    assert_eq!(key.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }
    let err = fails(&dir, &["keygen", "--out", "vault.key"]);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(&key_path).expect("the key file"), key, "the key file is unchanged");

    // enroll: the registration statement, a JWS with the public key in its header.
    let selfies = [fixture("obama.jpg"), fixture("obama1.jpg"), fixture("obama2.jpg")];
    let mut args = vec!["enroll"];
    args.extend(vault);
    args.extend(["--driver", "driver-7", "--fleet", "fleet-a"]);
    args.extend(selfies.iter().map(String::as_str));
    let statement = ok(&dir, &args, None);
    assert_eq!(statement.split('.').count(), 3, "{statement}");

    // registry add, the statement from stdin; the registry file is created.
    let kid =
        ok(&dir, &["registry", "add", "--registry", "registry.json", "--fleet", "fleet-a", "-"], Some(&statement));
    assert_eq!(kid.len(), 43, "{kid}");
    let registry = claims(&std::fs::read_to_string(dir.0.join("registry.json")).expect("the registry"));
    assert_eq!(registry[&kid]["driver"], "driver-7");
    let err = fails(&dir, &["registry", "add", "--registry", "registry.json", &statement]);
    assert!(err.contains("already registered"), "{err}");

    // checkin with another photo of the driver (obama1.jpg with an EXIF rotation; the only Obama photos in the
    // fixtures are the three enrolled): a token on stdout, the result on stderr.
    let mut args = vec!["checkin"];
    args.extend(vault);
    args.extend(["--nonce", "nonce-1", "--block", "block-1"]);
    let matched = run(&dir, &[&args[..], &[&fixture("exif_orientation6.jpg")]].concat(), None);
    assert!(matched.status.success(), "{}", stderr(&matched));
    let token = stdout(&matched);
    assert!(stderr(&matched).contains("match"), "{}", stderr(&matched));

    // attest verify --state: the claims as JSON, and the counter recorded.
    let verify = ["attest", "verify", "--registry", "registry.json", "--state", "state.json", "--nonce"];
    let json = claims(&ok(&dir, &[&verify[..], &["nonce-1", &token]].concat(), None));
    assert_eq!(json["res"], "match");
    assert_eq!(
        (&json["sub"], &json["aud"], &json["blk"], &json["iss"]),
        (&"driver-7".into(), &"fleet-a".into(), &"block-1".into(), &kid.clone().into())
    );
    assert_eq!(json["live"], true);
    let state = claims(&std::fs::read_to_string(dir.0.join("state.json")).expect("the state"));
    assert_eq!(state[&kid], json["ctr"]);

    // The same token again: a replay.
    let err = fails(&dir, &[&verify[..], &["nonce-1", &token]].concat());
    assert!(err.contains("replay"), "{err}");

    // The same token verified by 20 processes at once against one fresh state file: the read-check-write of the
    // state runs under a lock, so exactly one accepts it (without the lock most runs accepted it twice or more).
    let racers: Vec<_> = (0..20)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_facecheck"))
                .args(["attest", "verify", "--registry", "registry.json", "--state", "raced.json"])
                .args(["--nonce", "nonce-1", &token])
                .current_dir(&dir.0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the binary runs")
        })
        .collect();
    let accepted = racers.into_iter().map(|mut c| c.wait().expect("finishes")).filter(|s| s.success()).count();
    assert_eq!(accepted, 1, "one of 20 concurrent verifications of one token accepts it");
    // A wrong nonce or fleet has its own message.
    let err = fails(&dir, &["attest", "verify", "--registry", "registry.json", "--nonce", "other", &token]);
    assert!(err.contains("nonce does not match"), "{err}");
    let err = fails(
        &dir,
        &["attest", "verify", "--registry", "registry.json", "--nonce", "nonce-1", "--fleet", "fleet-b", &token],
    );
    assert!(err.contains("audience"), "{err}");

    // Someone else: no_match, verified as such.
    let other = ok(&dir, &[&args[..], &[&fixture("biden.jpg")]].concat(), None);
    let json = claims(&ok(&dir, &[&verify[..], &["nonce-1", &other]].concat(), None));
    assert_eq!(json["res"], "no_match");

    // A wrong key file: a clear error, and the vault is untouched.
    ok(&dir, &["keygen", "--out", "other.key"], None);
    let before = std::fs::read(dir.0.join("driver.vault")).expect("the vault");
    let err = fails(&dir, &["status", "--vault", "driver.vault", "--key-file", "other.key"]);
    assert!(err.contains("cannot be decrypted: wrong key"), "{err}");
    let err = fails(
        &dir,
        &[
            "checkin",
            "--vault",
            "driver.vault",
            "--key-file",
            "other.key",
            "--nonce",
            "n",
            "--block",
            "b",
            &fixture("obama1.jpg"),
        ],
    );
    assert!(err.contains("cannot be decrypted: wrong key"), "{err}");
    assert_eq!(std::fs::read(dir.0.join("driver.vault")).expect("the vault"), before, "the vault is untouched");

    // status.
    let status = claims(&ok(&dir, &[&["status"][..], &vault[..]].concat(), None));
    assert_eq!((&status["enrolled"], &status["device_key_id"]), (&true.into(), &kid.clone().into()));

    // erase: a receipt that verifies with res erased; the vault is gone, and the key file holds a new key.
    let vault_path = dir.0.join("driver.vault");
    let before_erasure = std::fs::read(&vault_path).expect("the vault");
    let receipt = ok(&dir, &[&["erase"][..], &vault[..]].concat(), None);
    let json = claims(&ok(&dir, &[&verify[..], &["erasure", &receipt]].concat(), None));
    assert_eq!(json["res"], "erased");
    assert!(!vault_path.exists(), "the vault (and the device key in it) is gone");
    let new_key = std::fs::read(&key_path).expect("the key file");
    assert_eq!(new_key.len(), 32);
    assert_ne!(new_key, key, "the erased vault's key is still in the key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }
    let err = fails(&dir, &[&args[..], &[&fixture("obama1.jpg")]].concat());
    assert!(err.contains("no vault"), "{err}");

    // A copy of the vault from before the erasure, put back: it opens with nothing the command holds, so nothing is
    // signed from it.
    std::fs::write(&vault_path, &before_erasure).expect("restores the copy");
    let err = fails(&dir, &[&["status"][..], &vault[..]].concat());
    assert!(err.contains("cannot be decrypted: wrong key"), "{err}");
    let err = fails(&dir, &[&args[..], &[&fixture("obama1.jpg")]].concat());
    assert!(err.contains("cannot be decrypted: wrong key"), "{err}");
    let err = fails(&dir, &[&["erase"][..], &vault[..]].concat());
    assert!(err.contains("cannot be decrypted: wrong key"), "{err}");
    assert_eq!(std::fs::read(&vault_path).expect("the copy"), before_erasure, "the copy is left as it was");
    assert_eq!(std::fs::read(&key_path).expect("the key file"), new_key, "a refused erase keeps the key file");
    std::fs::remove_file(&vault_path).expect("removes the copy");

    // The same enroll command again: a new vault under the new key, with a new device key.
    let mut args_enroll = vec!["enroll"];
    args_enroll.extend(vault);
    args_enroll.extend(["--driver", "driver-7", "--fleet", "fleet-a"]);
    args_enroll.extend(selfies.iter().map(String::as_str));
    let again = ok(&dir, &args_enroll, None);
    assert_ne!(again, statement);
    let status = claims(&ok(&dir, &[&["status"][..], &vault[..]].concat(), None));
    assert_eq!(status["enrolled"], true);
    assert_ne!(status["device_key_id"], kid.as_str());

    // registry revoke: the device's tokens no longer verify.
    ok(&dir, &["registry", "revoke", "--registry", "registry.json", &kid], None);
    let err = fails(&dir, &["attest", "verify", "--registry", "registry.json", "--nonce", "nonce-1", &other]);
    assert!(err.contains("revoked"), "{err}");
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = TempDir::new("bad");
    ok(&dir, &["keygen", "--out", "vault.key"], None);

    // A key file others can read is refused; so is a file that is not a key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.0.join("open.key"), [0u8; 32]).expect("writes");
        std::fs::set_permissions(dir.0.join("open.key"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = fails(&dir, &["status", "--vault", "v", "--key-file", "open.key"]);
        assert!(err.contains("accessible to other users"), "{err}");
    }
    std::fs::write(dir.0.join("short.key"), b"not a key").expect("writes");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.0.join("short.key"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let err = fails(&dir, &["status", "--vault", "v", "--key-file", "short.key"]);
    assert!(err.contains("not a facecheck key file"), "{err}");
    let err = fails(&dir, &["status", "--vault", "missing.vault", "--key-file", "vault.key"]);
    assert!(err.contains("no vault"), "{err}");

    // Enrollment needs 3 to 5 usable selfies, and writes nothing otherwise.
    let two = ["enroll", "--vault", "v", "--key-file", "vault.key", "--driver", "d", "--fleet", "f"];
    let err = fails(&dir, &[&two[..], &[&fixture("obama.jpg"), &fixture("obama1.jpg")]].concat());
    assert!(err.contains("3 to 5 selfies"), "{err}");
    let err =
        fails(&dir, &[&two[..], &[&fixture("obama.jpg"), &fixture("obama1.jpg"), &fixture("image_F2.jpg")]].concat());
    assert!(err.contains("selfie 3"), "{err}");
    assert!(!dir.0.join("v").exists());

    // The fleet side: garbage statements, tokens, registries and key ids.
    let err = fails(&dir, &["registry", "add", "--registry", "r.json", "--fleet", "f", "not.a.statement"]);
    assert!(err.contains("registration rejected"), "{err}");
    assert!(!dir.0.join("r.json").exists());
    let err = fails(&dir, &["registry", "add", "--registry", "r.json", "x.y.z"]);
    assert!(err.contains("pass --fleet"), "{err}");
    let err = fails(&dir, &["attest", "verify", "--registry", "r.json", "--nonce", "n", "x.y.z"]);
    assert!(err.contains("no such registry"), "{err}");
    std::fs::write(dir.0.join("r.json"), "{}").expect("writes");
    let err = fails(&dir, &["attest", "verify", "--registry", "r.json", "--nonce", "n", "x.y.z"]);
    assert!(err.contains("pass --fleet"), "{err}");
    let err = fails(&dir, &["attest", "verify", "--registry", "r.json", "--nonce", "n", "--fleet", "f", "x.y.z"]);
    assert!(err.contains("attestation rejected: malformed"), "{err}");
    let err = fails(&dir, &["registry", "revoke", "--registry", "r.json", "nonsense"]);
    assert!(err.contains("not a key id"), "{err}");
    // A key id may begin with a dash (base64url): it is taken as the id, not as a flag.
    let err = fails(&dir, &["registry", "revoke", "--registry", "r.json", "-zTzP_LFsZ9lrFS0gr00QZbHt_KOAAAahq7dtsA"]);
    assert!(err.contains("not a key id"), "{err}");
    std::fs::write(dir.0.join("broken.json"), "{").expect("writes");
    let err = fails(&dir, &["attest", "verify", "--registry", "broken.json", "--nonce", "n", "x.y.z"]);
    assert!(err.contains("malformed"), "{err}");
}

/// A device key of the test's own, signing statements without an enrolled face (for the fleet-side commands).
struct Device(facecheck_attest::DeviceKey);

impl Device {
    fn new() -> Device {
        Device(facecheck_attest::DeviceKey::generate(&ring::rand::SystemRandom::new()).expect("a key").0)
    }

    fn registration(&self, driver: &str, fleet: &str) -> String {
        self.0.sign_registration(&facecheck_attest::RegistrationClaims {
            driver: driver.to_owned(),
            fleet: fleet.to_owned(),
            model_manifest: facecheck_attest::ManifestDigest::of_manifest(b"{}"),
            issued_at: now(),
            enrollment_code: None,
            consent: None,
        })
    }

    fn checkin(&self, driver: &str, fleet: &str, nonce: &str, counter: u64) -> String {
        self.0.sign(&facecheck_attest::Claims {
            driver: driver.to_owned(),
            fleet: fleet.to_owned(),
            block: "block-1".to_owned(),
            nonce: nonce.to_owned(),
            issued_at: now(),
            counter,
            outcome: facecheck_attest::Outcome::Match,
            liveness_passed: true,
            liveness_method: facecheck_attest::LivenessMethod::Passive,
            attempts: 1,
            model_manifest: facecheck_attest::ManifestDigest::of_manifest(b"{}"),
            policy: "test".to_owned(),
            version: "0".to_owned(),
        })
    }

    fn kid(&self) -> String {
        self.0.key_id().to_string()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// `facecheck detect X | head`, with the pipe closed before the command writes (issue 13): it used to panic
/// ("failed printing to stdout: Broken pipe", status 101); now it ends quietly, as a program killed by SIGPIPE.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = TempDir::new("pipe");
    let closed = || {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        writer
    };
    let detect = Command::new(env!("CARGO_BIN_EXE_facecheck"))
        .args(["detect", &fixture("obama.jpg")])
        .stdout(closed())
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs");
    assert_eq!(detect.status.code(), Some(141), "{}", stderr(&detect));
    assert!(detect.stderr.is_empty(), "nothing on stderr: {}", stderr(&detect));
    // The same on stderr (keygen writes its note there).
    let keygen = Command::new(env!("CARGO_BIN_EXE_facecheck"))
        .args(["keygen", "--out", "k"])
        .current_dir(&dir.0)
        .stderr(closed())
        .output()
        .expect("the binary runs");
    assert_eq!(keygen.status.code(), Some(141));
    assert!(dir.0.join("k").exists(), "the key was written before the note");
}

/// A driver id with terminal control sequences, in a statement the fleet side is given (issue 13): printed raw, it
/// could turn the success line into "registration rejected". Every human-readable line escapes it.
#[test]
fn ids_from_statements_and_files_are_escaped() {
    let dir = TempDir::new("escape");
    let driver = "d7\u{1b}[2K\rregistration rejected\u{202e}\u{9b}";
    let device = Device::new();
    let statement = device.registration(driver, "F1");
    let output = run(&dir, &["registry", "add", "--registry", "r.json", "--fleet", "F1", &statement], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(!err.contains(['\u{1b}', '\r', '\u{202e}', '\u{9b}']), "{err:?}");
    assert!(err.contains("for driver d7\\u{1b}[2K\\rregistration rejected\\u{202e}\\u{9b} in fleet F1"), "{err:?}");
    // The claims printed as JSON: the same value, nothing raw that a terminal would act on (serde escapes only the
    // ASCII controls).
    let token = device.checkin(driver, "F1", "n", 1);
    let json = ok(&dir, &["attest", "verify", "--registry", "r.json", "--nonce", "n", &token], None);
    assert!(!json.contains(['\u{1b}', '\r', '\u{202e}', '\u{9b}']), "{json:?}");
    assert_eq!(claims(&json)["sub"], driver);
    // An error line naming a file.
    let err = fails(&dir, &["attest", "verify", "--registry", "r.json", "--nonce", "n", "token\u{1b}[31m.jws"]);
    assert!(!err.contains('\u{1b}') && err.contains("token\\u{1b}[31m.jws"), "{err:?}");
}

/// Token arguments (issue 13): `statement.jws` was taken for the statement itself, so the README's walk-through
/// failed. A compact JWS is the token, `-` is stdin, `@FILE` and any other argument a file.
#[test]
fn token_arguments_are_the_token_stdin_or_a_file() {
    let dir = TempDir::new("tokens");
    let device = Device::new();
    let statement = device.registration("D7", "F1");
    std::fs::write(dir.0.join("statement.jws"), format!("{statement}\n")).expect("writes");
    std::fs::write(dir.0.join("a.b.c"), &statement).expect("writes");
    for (registry, argument, stdin) in [
        ("r1.json", "statement.jws", None),
        ("r2.json", "@statement.jws", None),
        ("r3.json", "./a.b.c", None),
        ("r4.json", "@a.b.c", None),
        ("r5.json", "-", Some(statement.as_str())),
        ("r6.json", statement.as_str(), None),
    ] {
        let kid = ok(&dir, &["registry", "add", "--registry", registry, "--fleet", "F1", argument], stdin);
        assert_eq!(kid, device.kid(), "{argument}");
    }
    // Of the form of a JWS, `a.b.c` is a token (a malformed one), not the file.
    let err = fails(&dir, &["registry", "add", "--registry", "r7.json", "--fleet", "F1", "a.b.c"]);
    assert!(err.contains("registration rejected: malformed"), "{err}");
    let err = fails(&dir, &["registry", "add", "--registry", "r7.json", "--fleet", "F1", "missing.jws"]);
    assert!(err.contains("cannot read a token from missing.jws"), "{err}");
    let token = device.checkin("D7", "F1", "n1", 1);
    std::fs::write(dir.0.join("token.jws"), &token).expect("writes");
    let json = claims(&ok(&dir, &["attest", "verify", "--registry", "r1.json", "--nonce", "n1", "token.jws"], None));
    assert_eq!(json["res"], "match");
}

/// A registry that names two fleets (issue 13): `attest verify` without `--fleet` took the audience from the
/// signing key's own entry, so a device of fleet B passed where fleet A verified. It now needs `--fleet`.
#[test]
fn attest_verify_needs_the_fleet_when_the_registry_names_several() {
    let dir = TempDir::new("fleets");
    let (a, b) = (Device::new(), Device::new());
    ok(
        &dir,
        &["registry", "add", "--registry", "r.json", "--fleet", "fleet-a", &a.registration("D1", "fleet-a")],
        None,
    );
    let token_a = a.checkin("D1", "fleet-a", "n", 1);
    let verify = ["attest", "verify", "--registry", "r.json", "--nonce", "n"];
    // One fleet in the registry: it is the default.
    assert_eq!(claims(&ok(&dir, &[&verify[..], &[&token_a]].concat(), None))["aud"], "fleet-a");
    ok(
        &dir,
        &["registry", "add", "--registry", "r.json", "--fleet", "fleet-b", &b.registration("D2", "fleet-b")],
        None,
    );
    let token_b = b.checkin("D2", "fleet-b", "n", 1);
    for token in [&token_a, &token_b] {
        let err = fails(&dir, &[&verify[..], &[token]].concat());
        assert!(err.contains("does not name a single fleet; pass --fleet"), "{err}");
    }
    let err = fails(&dir, &[&verify[..], &["--fleet", "fleet-a", &token_b]].concat());
    assert!(err.contains("attestation rejected"), "{err}");
    assert_eq!(claims(&ok(&dir, &[&verify[..], &["--fleet", "fleet-b", &token_b]].concat(), None))["aud"], "fleet-b");
}

/// `bench stages` (scripts/bench-vs-onnxruntime.sh's Facecheck side): the load times, then per photo every stage's
/// time and the gates' verdict, and `no_face` for a photo without one; nothing about the face itself. Times are
/// not checked, only that they are there.
#[test]
fn bench_stages_prints_each_stage_per_photo() {
    let dir = TempDir::new("bench");
    let blank = dir.0.join("blank.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128])).save(&blank).expect("writes a PNG");
    let photos = format!("{}\n\n{}\n", fixture("obama.jpg"), blank.display());
    let out = ok(&dir, &["bench", "stages", "--loads", "2"], Some(&photos));
    let lines: Vec<serde_json::Value> = out.lines().map(claims).collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["load_ms"].as_array().map(Vec::len), Some(2), "{out}");
    let stages = lines[1]["ms"].as_object().expect("stage times");
    let names: Vec<&str> = stages.keys().map(String::as_str).collect();
    for stage in ["decode", "detect", "quality", "liveness", "align", "embed", "match", "sign"] {
        assert!(stages[stage].as_f64().is_some_and(|ms| ms >= 0.0), "{stage} in {names:?}");
    }
    assert_eq!(stages.len(), 8, "{names:?}");
    assert_eq!(lines[1]["gates_passed"], true, "{out}");
    assert_eq!(lines[2]["no_face"], true, "{out}");
}
