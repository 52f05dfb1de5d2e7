//! Harness for the operations tests (concurrency, crash, bad input, fuzz, browser): the real `facecheck-fleet`
//! binary, started on a free loopback port against a fresh SQLite file or a fresh PostgreSQL database, driven over
//! HTTP and through its `admin` command line, with device tokens signed by facecheck-attest's `DeviceKey`.
//!
//! PostgreSQL comes from `FACECHECK_TEST_POSTGRES_URL` (`scripts/postgres.sh start` prints it); each test gets its
//! own database on that server. Without the variable the PostgreSQL cases are skipped, except under `CI`, where a
//! missing server is a failure rather than a silent skip.
#![allow(dead_code)]

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use facecheck_attest::{Claims, CodeBinding, Consent, DeviceKey, ManifestDigest, Outcome, RegistrationClaims};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

/// The binary under test, built by cargo for this package's integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_facecheck-fleet");

/// No request of these tests may take longer: a hang is a failure, not a stuck CI run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The model manifest the simulated devices claim (the service stores it; nothing image-derived).
pub fn manifest() -> ManifestDigest {
    ManifestDigest::of_manifest(b"facecheck-fleet ops tests: simulated device model manifest")
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// A unique suffix for database, fleet and driver names within this test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos:x}", std::process::id())
}

/// Which storage a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database: a SQLite file in a temporary directory, or a new database on the test PostgreSQL server.
pub struct Db {
    pub url: String,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite:{}", dir.path().join("fleet.db").display());
        let db = Db { url, backend: Backend::Sqlite, dir };
        db.migrate();
        db
    }

    /// A new, migrated database on the test PostgreSQL server, or `None` (skip) when none is configured.
    pub fn postgres() -> Option<Db> {
        let base = match std::env::var("FACECHECK_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                if std::env::var_os("CI").is_some() {
                    panic!("CI is set but FACECHECK_TEST_POSTGRES_URL is not: start scripts/postgres.sh");
                }
                eprintln!("skipped: FACECHECK_TEST_POSTGRES_URL is not set (eval \"$(scripts/postgres.sh start)\")");
                return None;
            }
        };
        let name = unique("fc_ops").to_lowercase();
        psql(&base, &format!("CREATE DATABASE {name}"));
        let url = replace_database(&base, &name);
        let db = Db { url, backend: Backend::Postgres, dir: tempfile::tempdir().expect("temporary directory") };
        db.migrate();
        Some(db)
    }

    /// Every backend this run can test: SQLite always, PostgreSQL when configured.
    pub fn all() -> Vec<Db> {
        let mut dbs = vec![Db::sqlite()];
        dbs.extend(Db::postgres());
        dbs
    }

    pub fn migrate(&self) {
        run_cli(&["migrate", "--db", &self.url]);
    }

    /// `admin create-token`: a new admin token.
    pub fn admin_token(&self) -> String {
        let out = run_cli(&["admin", "create-token", "--db", &self.url]);
        out.split_whitespace().last().expect("create-token printed a token").to_owned()
    }

    /// `admin enrollment-code --fleet F --driver D`: the new code, as XXXX-XXXX-XXXX.
    pub fn enrollment_code(&self, fleet: &str, driver: &str) -> String {
        let out = run_cli(&["admin", "enrollment-code", "--db", &self.url, "--fleet", fleet, "--driver", driver]);
        find_code(&out).unwrap_or_else(|| panic!("no XXXX-XXXX-XXXX code in enrollment-code output: {out:?}"))
    }

    /// `admin checkins --json [--driver D]`: the recorded check-ins.
    pub fn checkins(&self, driver: Option<&str>) -> Vec<Value> {
        let mut args = vec!["admin", "checkins", "--db", &self.url, "--json"];
        if let Some(d) = driver {
            args.extend(["--driver", d]);
        }
        let out = run_cli(&args);
        match serde_json::from_str::<Value>(&out) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("admin checkins --json did not print a JSON array: {other:?} from {out:?}"),
        }
    }
}

/// The 12-character code, dashed, in the first line that has one.
pub fn find_code(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).find_map(|word| {
        let parts: Vec<&str> = word.split('-').collect();
        let ok = parts.len() == 3 && parts.iter().all(|p| p.len() == 4 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        ok.then(|| word.to_owned())
    })
}

fn replace_database(url: &str, name: &str) -> String {
    let (head, tail) = url.rsplit_once('/').expect("postgres URL has a database path");
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{head}/{name}{query}")
}

/// Runs one SQL statement with psql (installed with the server by scripts/postgres.sh).
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-tAqc", sql])
        .stdin(Stdio::null())
        .output()
        .expect("psql runs (scripts/postgres.sh installs it)");
    assert!(out.status.success(), "psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the binary to completion (with a deadline) and returns its standard output; panics on failure.
pub fn run_cli(args: &[&str]) -> String {
    let (ok, stdout, stderr) = try_cli(args);
    assert!(ok, "facecheck-fleet {args:?} failed: {stderr}");
    stdout
}

pub fn try_cli(args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn facecheck-fleet");
    // Drain both pipes while waiting: a large output (`admin checkins --json`) would otherwise fill the pipe and
    // block the child forever.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        out_pipe.read_to_string(&mut s).map(|_| s).unwrap_or_default()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err_pipe.read_to_string(&mut s).map(|_| s).unwrap_or_default()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("facecheck-fleet {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    (status.success(), stdout, stderr)
}

/// A loopback port nothing listens on right now (the server binds it next; a lost race is retried).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// One running `facecheck-fleet serve` process.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub db_url: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `serve --db URL --listen 127.0.0.1:PORT` and waits until `/healthz` answers 200.
    pub fn start(db: &Db) -> Server {
        Server::start_with(&db.url, db.dir.path(), &[])
    }

    pub fn start_with(db_url: &str, log_dir: &Path, extra: &[&str]) -> Server {
        let level = std::env::var("FACECHECK_OPS_LOG").unwrap_or_else(|_| "warn".into());
        Server::start_logging(db_url, log_dir, extra, &level)
    }

    /// As [`Server::start_with`], logging at `level` (`RUST_LOG`) into [`Server::log`].
    pub fn start_logging(db_url: &str, log_dir: &Path, extra: &[&str], level: &str) -> Server {
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = log_dir.join(format!("serve-{port}-{attempt}.log"));
            let logfile = std::fs::File::create(&log).expect("server log file");
            let listen = format!("127.0.0.1:{port}");
            let mut args = vec!["serve", "--db", db_url, "--listen", &listen];
            args.extend_from_slice(extra);
            let child = Command::new(BIN)
                .args(&args)
                .env("RUST_LOG", level)
                .stdin(Stdio::null())
                .stdout(logfile.try_clone().unwrap())
                .stderr(logfile)
                .spawn()
                .expect("spawn facecheck-fleet serve");
            let mut server = Server {
                child: Some(child),
                port,
                base: format!("http://127.0.0.1:{port}"),
                db_url: db_url.into(),
                log,
            };
            match server.wait_healthy(Duration::from_secs(30)) {
                Ok(()) => return server,
                Err(e) => {
                    last_err = format!("{e}; log:\n{}", server.log_text());
                    server.kill9();
                }
            }
        }
        panic!("facecheck-fleet serve did not become healthy: {last_err}");
    }

    fn wait_healthy(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("exited early with {status}"));
            }
            if let Some(200) = blocking_status(self.port, "/healthz") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err("no 200 from /healthz".into())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, no chance to flush or shut down, and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still alive (a test that sees it die on bad input fails).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A plain HTTP/1.1 GET over a raw socket, for the health probe (no client library, no runtime).
fn blocking_status(port: u16, path: &str) -> Option<u16> {
    use std::io::Write;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

/// An HTTP client with a hard per-request deadline.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// POSTs JSON; returns the status and the parsed body (`Value::Null` when the body is not JSON).
pub async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let resp = client.post(url).json(body).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A simulated phone: a software Ed25519 device key registered for one driver, with its own counter.
pub struct Device {
    pub key: DeviceKey,
    pub driver: String,
    pub fleet: String,
    pub counter: u64,
    pub registration: String,
}

impl Device {
    pub fn new(fleet: &str, driver: &str) -> Device {
        let (_, pkcs8) = DeviceKey::generate(&SystemRandom::new()).expect("generate device key");
        let key = DeviceKey::from_pkcs8(&pkcs8).expect("load device key");
        Device { key, driver: driver.into(), fleet: fleet.into(), counter: 0, registration: String::new() }
    }

    pub fn kid(&self) -> String {
        self.key.key_id().as_str().to_owned()
    }

    /// The registration statement for an enrollment code, with the consent the app records.
    pub fn registration_statement(&self, code: &str, notice: &str) -> String {
        let now = now_unix();
        self.key.sign_registration(&RegistrationClaims {
            driver: self.driver.clone(),
            fleet: self.fleet.clone(),
            model_manifest: manifest(),
            issued_at: now,
            enrollment_code: Some(CodeBinding::of_code(code)),
            consent: Some(Consent { notice: notice.into(), accepted_at: now }),
        })
    }

    /// Enrolls as an admin and a phone would: a code from the CLI, its notice from the API, the statement posted.
    pub async fn enroll(client: &reqwest::Client, server: &Server, db: &Db, fleet: &str, driver: &str) -> Device {
        let mut device = Device::new(fleet, driver);
        let code = db.enrollment_code(fleet, driver);
        device.register_with_code(client, server, &code).await;
        device
    }

    pub async fn register_with_code(&mut self, client: &reqwest::Client, server: &Server, code: &str) -> (u16, Value) {
        let info = client
            .get(server.url(&format!("/v1/enrollment-codes/{code}")))
            .send()
            .await
            .expect("GET enrollment code")
            .json::<Value>()
            .await
            .expect("enrollment code info is JSON");
        let notice = info["consent_notice"].as_str().unwrap_or("facecheck-consent-v2").to_owned();
        self.registration = self.registration_statement(code, &notice);
        let (status, body) =
            post_json(client, &server.url("/v1/registrations"), &json!({ "statement": self.registration })).await;
        assert!(status == 201 || status == 200, "registration refused: {status} {body}");
        (status, body)
    }

    /// `POST /v1/challenges`; returns the nonce.
    pub async fn challenge(&self, client: &reqwest::Client, server: &Server, block: &str) -> String {
        let (status, body) =
            post_json(client, &server.url("/v1/challenges"), &json!({ "kid": self.kid(), "block": block })).await;
        assert!(status == 201 || status == 200, "challenge refused: {status} {body}");
        body["nonce"].as_str().expect("challenge has a nonce").to_owned()
    }

    /// Signs a check-in for `nonce` with the next counter.
    pub fn checkin_token(&mut self, block: &str, nonce: &str, outcome: Outcome) -> String {
        self.counter += 1;
        self.key.sign(&self.claims(block, nonce, outcome, self.counter))
    }

    pub fn claims(&self, block: &str, nonce: &str, outcome: Outcome, counter: u64) -> Claims {
        Claims {
            driver: self.driver.clone(),
            fleet: self.fleet.clone(),
            block: block.into(),
            nonce: nonce.into(),
            issued_at: now_unix(),
            counter,
            outcome,
            liveness_passed: outcome == Outcome::Match,
            liveness_method: facecheck_attest::LivenessMethod::Passive,
            attempts: 1,
            model_manifest: manifest(),
            policy: "fmr-1e-4".into(),
            version: "0.1.0".into(),
        }
    }

    /// Challenge, sign, submit: the whole check-in. Returns the status and body of `POST /v1/checkins`.
    pub async fn check_in(
        &mut self,
        client: &reqwest::Client,
        server: &Server,
        block: &str,
        outcome: Outcome,
    ) -> (u16, Value, String) {
        let nonce = self.challenge(client, server, block).await;
        let token = self.checkin_token(block, &nonce, outcome);
        let (status, body) = post_json(client, &server.url("/v1/checkins"), &json!({ "token": token })).await;
        (status, body, token)
    }
}

/// The error body the protocol promises on every refusal: `{"error":{"code":"snake_case","message":"..."}}`.
pub fn assert_json_error(status: u16, body: &Value, context: &str) {
    assert!((400..500).contains(&status), "{context}: expected a 4xx, got {status} {body}");
    let code =
        body["error"]["code"].as_str().unwrap_or_else(|| panic!("{context}: {status} without a JSON error: {body}"));
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
        "{context}: error code not snake_case: {code:?}"
    );
    assert!(body["error"]["message"].is_string(), "{context}: error without a message: {body}");
}

/// The admin page's entry point.
pub const ADMIN_HOME: &str = "/admin";

/// Every admin route, page and API, with a method, for the no-session probes (ids in paths are made up).
pub async fn admin_routes(_server: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("GET", "/admin".into()),
        ("POST", "/admin/codes".into()),
        ("POST", "/admin/keys/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/revoke".into()),
        ("POST", "/admin/reviews/some-review/resolve".into()),
        ("GET", "/v1/admin/checkins".into()),
        ("GET", "/v1/admin/reviews".into()),
        ("GET", "/v1/admin/devices".into()),
        ("GET", "/v1/admin/audit".into()),
        ("POST", "/v1/admin/enrollment-codes".into()),
        ("POST", "/v1/admin/keys/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/revoke".into()),
        ("POST", "/v1/admin/reviews/some-review/resolve".into()),
        ("GET", "/v1/admin/fleets/f/policy".into()),
        ("PUT", "/v1/admin/fleets/f/policy".into()),
    ]
}

/// The admin API (`Authorization: Bearer <admin token>`), running in the server process.
pub struct AdminApi {
    pub token: String,
    pub base: String,
    pub client: reqwest::Client,
}

impl AdminApi {
    pub fn new(server: &Server, db: &Db) -> AdminApi {
        AdminApi { token: db.admin_token(), base: server.base.clone(), client: client() }
    }

    /// `POST /v1/admin/keys/{kid}/revoke`; whether it answered 2xx.
    pub async fn revoke(&self, kid: &str) -> bool {
        let resp = self
            .client
            .post(format!("{}/v1/admin/keys/{kid}/revoke", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("revoke answers");
        resp.status().is_success()
    }

    /// `POST /v1/admin/enrollment-codes`: a new code over HTTP.
    pub async fn enrollment_code(&self, fleet: &str, driver: &str) -> String {
        let resp = self
            .client
            .post(format!("{}/v1/admin/enrollment-codes", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "fleet": fleet, "driver": driver }))
            .send()
            .await
            .expect("enrollment code answers");
        let body: Value = resp.json().await.expect("JSON");
        find_code(body["code"].as_str().unwrap_or_default()).unwrap_or_else(|| panic!("no code in {body}"))
    }
}
