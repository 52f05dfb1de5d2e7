//! The device side against a real fleet service: the built `facecheck` binary talking over loopback to a real
//! `facecheck-fleet serve`, on a SQLite file in a temp directory and (with FACECHECK_TEST_POSTGRES_URL, as in
//! `.ci/run`) on a fresh PostgreSQL database, in the command forms of issue 9. Enroll by code → a match is accepted → an impostor
//! goes to review → the same code again is refused → a restored old vault refuses to sign → erase → the backup no
//! longer opens → a dead server is a clear error; and `facecheck demo` runs.

mod common;

use common::{fixture, TempDir};

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const FLEET: &str = "fleet-e2e";
const DRIVER: &str = "driver-7";
const NOTICE: &str = "facecheck-consent-v2";

/// The `facecheck-fleet` binary, built (or found up to date) in this test's target directory and profile.
fn fleet_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(build_fleet_binary).clone()
}

fn build_fleet_binary() -> PathBuf {
    let facecheck = PathBuf::from(env!("CARGO_BIN_EXE_facecheck"));
    let profile_dir = facecheck.parent().expect("the binary is in a profile folder");
    let target_dir = profile_dir.parent().expect("the profile folder is in the target folder");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    // The workspace's feature set, as the test suite's own build resolved it: `-p facecheck-fleet` alone would
    // resolve the dependencies' features differently and compile the fleet's stack a second time.
    build.args(["build", "--workspace", "--lib", "--bins", "--tests"]).env("CARGO_TARGET_DIR", target_dir);
    // Nor the variables cargo set for this test (CARGO_MANIFEST_DIR, CARGO_PKG_NAME...): build scripts that read
    // them, ring's among them, would see them changed and rebuild (and again at the next ordinary build).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_this_test = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_", "CARGO_CRATE_", "CARGO_PRIMARY_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || name == "CARGO_TARGET_TMPDIR"
            || name == "CARGO_RUSTC_CURRENT_DIR";
        if set_for_this_test {
            build.env_remove(&*name);
        }
    }
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building facecheck-fleet failed");
    profile_dir.join("facecheck-fleet")
}

/// A running `facecheck-fleet serve`, killed on drop.
struct Fleet {
    child: Child,
    url: String,
    db: String,
}

impl Fleet {
    fn start(db: String) -> Fleet {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(fleet_binary())
            .args(["serve", "--db", &db, "--listen", &listen])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("facecheck-fleet starts");
        let fleet = Fleet { child, url: format!("http://{listen}"), db };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(&listen).is_err() {
            assert!(Instant::now() < deadline, "facecheck-fleet did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        fleet
    }

    fn admin(&self, args: &[&str]) -> String {
        let output = Command::new(fleet_binary())
            .arg("admin")
            .args(args)
            .args(["--db", &self.db])
            .output()
            .expect("facecheck-fleet admin runs");
        assert!(output.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8")
    }

    /// `CODE=$(facecheck-fleet admin enrollment-code ...)`: the code is all it prints.
    fn code(&self) -> String {
        let out = self.admin(&["enrollment-code", "--fleet", FLEET, "--driver", DRIVER]);
        out.strip_suffix('\n')
            .filter(|code| !code.contains(char::is_whitespace))
            .expect("one line, the code")
            .to_owned()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facecheck"))
        .args(args)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn ok(dir: &TempDir, args: &[&str]) -> serde_json::Value {
    let output = run(dir, args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "facecheck {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn fails(dir: &TempDir, args: &[&str]) -> String {
    let output = run(dir, args);
    assert!(!output.status.success(), "facecheck {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
    assert!(output.stdout.is_empty(), "a failure prints nothing on stdout");
    String::from_utf8(output.stderr).expect("UTF-8")
}

#[test]
fn enroll_by_code_checkin_review_reuse_rollback_erase_against_a_real_fleet_service_on_sqlite() {
    let dir = TempDir::new("flow");
    let db = format!("sqlite:{}", dir.0.join("fleet.db").display());
    flow(&dir, Fleet::start(db));
}

#[test]
fn enroll_by_code_checkin_review_reuse_rollback_erase_against_a_real_fleet_service_on_postgres() {
    let Ok(base) = std::env::var("FACECHECK_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but FACECHECK_TEST_POSTGRES_URL is not");
        eprintln!("skipped: FACECHECK_TEST_POSTGRES_URL is not set (eval \"$(scripts/postgres.sh start)\")");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let db = runtime.block_on(facecheck_fleet::testing::fresh_postgres_url(&base)).expect("a fresh database");
    let fleet = Fleet::start(db);
    flow(&TempDir::new("flow-pg"), fleet);
}

/// The flow, in the forms the issue names: `facecheck enroll --vault V --key-file K --server URL --code CODE IMG...`,
/// `facecheck checkin --vault V --key-file K --server URL --block B IMG...`.
fn flow(dir: &TempDir, fleet: Fleet) {
    let server = fleet.url.as_str();
    let vault = ["--vault", "driver.vault", "--key-file", "vault.key"];
    run(dir, &["keygen", "--out", "vault.key"]);
    let code = fleet.code();
    let selfies = [fixture("obama.jpg"), fixture("obama1.jpg"), fixture("obama2.jpg")];
    let selfies: Vec<&str> = selfies.iter().map(String::as_str).collect();

    // A wrong consent notice is refused before anything is signed or written, and the code stays valid.
    let args =
        [&["enroll"][..], &vault, &["--server", server, "--code", &code, "--consent-notice", "v0"], &selfies].concat();
    let err = fails(dir, &args);
    assert!(err.contains("consent") && err.contains(NOTICE), "{err}");
    assert!(!dir.0.join("driver.vault").exists());

    // Enroll by code: registered, the fleet's notice accepted, evidence checked, fleet key pinned next to the vault.
    let args = [&["enroll"][..], &vault, &["--server", server, "--code", &code], &selfies].concat();
    let enrolled = ok(dir, &args);
    assert_eq!(enrolled["consent"]["notice"], NOTICE, "{enrolled}");
    assert_eq!(enrolled["status"], "active", "{enrolled}");
    assert_eq!((enrolled["fleet"].as_str(), enrolled["driver"].as_str()), (Some(FLEET), Some(DRIVER)));
    assert_eq!(enrolled["evidence_verified"], true);
    assert!(dir.0.join("driver.vault.fleet.json").exists());
    // A copy of the vault as it is now: a "backup" restored later.
    std::fs::copy(dir.0.join("driver.vault"), dir.0.join("backup.vault")).expect("copies");
    std::fs::copy(dir.0.join("driver.vault.fleet.json"), dir.0.join("backup.vault.fleet.json")).expect("copies");

    // The same code again, for another vault: refused by the fleet (single use), and that vault is removed.
    let args = [
        &["enroll", "--vault", "other.vault", "--key-file", "vault.key"][..],
        &["--server", server, "--code", &code, "--consent-notice", NOTICE],
        &selfies,
    ]
    .concat();
    let err = fails(dir, &args);
    assert!(err.contains("code_unknown"), "{err}");
    assert!(!dir.0.join("other.vault").exists(), "{err}");

    // A match: accepted.
    let frame = fixture("exif_orientation6.jpg");
    let matched = ok(dir, &[&["checkin"][..], &vault, &["--server", server, "--block", "block-am", &frame]].concat());
    assert_eq!((matched["verdict"].as_str(), matched["outcome"].as_str()), (Some("accepted"), Some("match")));
    assert_eq!(matched["evidence_verified"], true);
    // The impostor: review.
    let biden = fixture("biden.jpg");
    let other = ok(dir, &[&["checkin"][..], &vault, &["--server", server, "--block", "block-pm", &biden]].concat());
    assert_eq!((other["verdict"].as_str(), other["outcome"].as_str()), (Some("review"), Some("no_match")));

    // The restored backup (counter 0; the fleet has seen 2) refuses to sign.
    let backup = ["--vault", "backup.vault", "--key-file", "vault.key"];
    let err = fails(dir, &[&["checkin"][..], &backup, &["--server", server, "--block", "block-x", &frame]].concat());
    assert!(err.contains("restored from a backup") && err.contains("fleet's last counter 2"), "{err}");

    // What the fleet recorded.
    let recorded: serde_json::Value =
        serde_json::from_str(&fleet.admin(&["checkins", "--driver", DRIVER, "--json"])).expect("JSON");
    let mut verdicts: Vec<(String, String)> = recorded
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| (r["outcome"].as_str().unwrap_or("").to_owned(), r["verdict"].as_str().unwrap_or("").to_owned()))
        .collect();
    verdicts.sort();
    assert_eq!(verdicts, [("match".into(), "accepted".into()), ("no_match".into(), "review".into())]);

    // Erase, delivered to the fleet: the vault is gone, and the backup copy no longer opens (the key file was
    // replaced), so nothing reaches the fleet from it.
    let erased = ok(dir, &[&["erase"][..], &vault, &["--server", server]].concat());
    assert_eq!(erased["status"], "erased", "{erased}");
    let err = fails(dir, &[&["checkin"][..], &vault, &["--server", server, "--block", "block-y", &frame]].concat());
    assert!(err.contains("no vault"), "{err}");
    let err = fails(dir, &[&["checkin"][..], &backup, &["--server", server, "--block", "block-y", &frame]].concat());
    assert!(err.contains("cannot be decrypted: wrong key"), "{err}");

    // A server that is not there: a clear error (from a vault enrolled again offline under the new key).
    let again = [&["enroll"][..], &vault, &["--driver", DRIVER, "--fleet", FLEET], &selfies].concat();
    assert!(run(dir, &again).status.success(), "enrolls again offline");
    let dead = format!("http://127.0.0.1:{}", TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let err = fails(dir, &[&["checkin"][..], &vault, &["--server", &dead, "--block", "block-z", &frame]].concat());
    assert!(err.contains("cannot reach the fleet service") && err.contains("refused"), "{err}");

    // The offline form still works and needs its nonce.
    let err = fails(dir, &[&["checkin"][..], &vault, &["--block", "b", &frame]].concat());
    assert!(err.contains("--nonce") || err.contains("nonce"), "{err}");
}

#[test]
fn the_demo_runs_the_fleet_in_process_and_exits_zero() {
    let dir = TempDir::new("demo");
    let output = run(&dir, &["demo"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("the fleet's verdict: accepted"), "{stdout}");
    assert!(stdout.contains("the fleet's verdict: review (no_match)"), "{stdout}");
    assert!(stdout.contains("What the fleet recorded"), "{stdout}");
    assert!(stdout.contains("No photo left"), "{stdout}");
}
