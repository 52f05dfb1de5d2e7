//! The device commands: `keygen`, `enroll`, `checkin`, `erase`, `status`. They parse arguments, read and write
//! files and print; the policy is `facecheck::checkin`.
//!
//! A key file holds the 32 raw bytes of a vault's key-encryption key, readable by its owner only; every vault command
//! reads it with `--key-file` and refuses a file other users can read.
//!
//! Time: every command reads the wall clock and, on Linux, `CLOCK_BOOTTIME` (seconds since boot, counting through
//! sleep, not settable) and passes both to the core ([`clock`]), which serves a lock-out on the smaller of the two
//! progresses, so setting the clock forward does not end one. Elsewhere only the wall clock is read.
//!
//! With `--server URL`, `enroll`, `checkin` and `erase` talk to the fleet service ([`crate::client`]):
//! - `enroll --server URL --code CODE [--consent-notice VERSION] IMG...` looks the code up (fleet, driver, fleet
//!   key, the consent notice the fleet asks for); the driver accepts that notice by passing it as VERSION (anything
//!   else is refused), by answering yes when asked at a terminal, or, run from a script, by enrolling with the code
//!   (the acceptance is recorded with the time in the statement); it enrolls, signs the registration statement bound
//!   to the code, registers it, checks the fleet's evidence, and pins the fleet key and server next to the vault
//!   (`VAULT.fleet.json`). A refused registration removes the new vault (the key was never registered).
//! - `checkin --server URL --block B IMG...` asks for a challenge, refuses to sign when this machine's clock is more
//!   than the fleet's freshness window (300 s) away from the fleet's, or when the vault's counter is below the
//!   fleet's `last_counter` (a restored copy), checks in, submits the attestation, checks the evidence against the
//!   pinned fleet key and prints the fleet's verdict as JSON (`verdict`: accepted, review or refused).
//! - `erase --server URL` erases and delivers the receipt; the evidence is checked the same way.
//!
//! `erase` is final (`facecheck::checkin::erase`): the receipt is signed, the vault file and its device key are
//! destroyed, and then the key file is replaced by a new random key (a private temp file renamed over it), so no
//! copy of the erased vault opens with the key file any more, and the next `enroll` seals its new vault with the
//! new key. A key file serves one vault. (A copy of the old key file, made by whoever can read it, still opens a
//! copy of the old vault: the CLI's key file is a plain file, not a hardware-held key.)

use crate::client::{self, Client};
use crate::files;
use facecheck::checkin::{self, Challenge, EnrollmentContext, ERASURE_NONCE};
use facecheck::vault::KEK_LEN;
use facecheck::{Clock, Engine, Kek, Vault};
use facecheck_attest::{CodeBinding, Consent, EvidenceKind, DEFAULT_SKEW_SECS};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `facecheck keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key; an existing file is never overwritten.
    #[arg(long)]
    out: PathBuf,
}

/// The vault and the key that opens it.
#[derive(clap::Args)]
pub struct VaultArgs {
    /// The vault file.
    #[arg(long)]
    vault: PathBuf,
    /// The key file written by `facecheck keygen`.
    #[arg(long)]
    key_file: PathBuf,
}

/// `facecheck enroll`.
#[derive(clap::Args)]
pub struct EnrollArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The fleet's opaque id of the driver (offline form; with --server the code names it, and a value given must
    /// agree).
    #[arg(long, required_unless_present = "server")]
    driver: Option<String>,
    /// The fleet id (offline form; with --server the code names it).
    #[arg(long, required_unless_present = "server")]
    fleet: Option<String>,
    /// The fleet service to register with (e.g. http://127.0.0.1:8080); needs --code.
    #[arg(long, requires = "code")]
    server: Option<String>,
    /// The enrollment code the fleet's admin gave (XXXX-XXXX-XXXX).
    #[arg(long, requires = "server")]
    code: Option<String>,
    /// The version of the consent notice the driver read and accepted: enrolling is refused unless it is the one the
    /// fleet asks for. Without it, enrolling by the code accepts the notice the fleet names (printed). Either way the
    /// acceptance, with the time, is signed into the registration statement.
    #[arg(long, requires = "server")]
    consent_notice: Option<String>,
    /// Three to five selfies of the driver (JPEG or PNG).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// `facecheck checkin`.
#[derive(clap::Args)]
pub struct CheckinArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The server's challenge for this check-in (offline form).
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    nonce: Option<String>,
    /// The fleet service: ask it for the challenge, submit the attestation and print its verdict as JSON.
    #[arg(long)]
    server: Option<String>,
    /// The block or shift being checked into.
    #[arg(long)]
    block: String,
    /// One to eight frames of the same check-in (JPEG or PNG); the best usable one is judged.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// `facecheck erase`.
#[derive(clap::Args)]
pub struct EraseArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The server's challenge, if it sent one; without it the receipt's nonce and block are "erasure".
    #[arg(long)]
    nonce: Option<String>,
    /// The block id to put in the receipt (with --nonce; default "erasure").
    #[arg(long, requires = "nonce")]
    block: Option<String>,
    /// The fleet service to deliver the receipt to (prints its answer as JSON).
    #[arg(long, conflicts_with = "nonce")]
    server: Option<String>,
}

/// `facecheck status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    vault: VaultArgs,
}

/// Writes a new random key-encryption key.
pub fn keygen(args: KeygenArgs) -> Result<(), String> {
    let kek = Kek::generate().map_err(|e| e.to_string())?;
    files::write_new_private(&args.out, kek.secret_bytes())?;
    eprintln!(
        "wrote a new vault key to {} (mode 0600): keep it secret and backed up; without it the vault cannot be opened",
        args.out.display()
    );
    Ok(())
}

/// Enrolls a driver and prints the device registration statement.
pub fn enroll(models: &Path, args: EnrollArgs) -> Result<(), String> {
    let kek = read_kek(&args.vault.key_file)?;
    let selfies = args.images.iter().map(|p| crate::read(p)).collect::<Result<Vec<_>, _>>()?;
    if let (Some(server), Some(code)) = (&args.server, &args.code) {
        let notice = args.consent_notice.as_deref();
        let client = Client::new(server)?;
        let who = (args.fleet.as_deref(), args.driver.as_deref());
        let engine = crate::load_engine(models)?;
        let answer = enroll_by_code(&engine, &args.vault.vault, &kek, &client, code, notice, who, &selfies)?;
        println!("{}", serde_json::to_string_pretty(&answer).expect("serialisable"));
        return Ok(());
    }
    let (Some(driver), Some(fleet)) = (&args.driver, &args.fleet) else {
        return Err("give --driver and --fleet, or --server and --code".to_owned());
    };
    let engine = crate::load_engine(models)?;
    let now = clock()?;
    let enrolled = checkin::enroll(&engine, &args.vault.vault, &kek, driver, fleet, &selfies, now)
        .map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    println!("{}", enrolled.registration);
    eprintln!(
        "enrolled: vault {} created with a new device key; give the registration statement above to the fleet",
        args.vault.vault.display()
    );
    Ok(())
}

/// Checks in: the attestation on stdout, the result for the driver on stderr.
pub fn checkin(models: &Path, args: CheckinArgs) -> Result<(), String> {
    let frames = args.images.iter().map(|p| crate::read(p)).collect::<Result<Vec<_>, _>>()?;
    if let Some(server) = &args.server {
        let client = Client::new(server)?;
        let engine = crate::load_engine(models)?;
        let mut vault = open_vault(&args.vault, clock()?)?;
        let answer = checkin_at(&engine, &mut vault, &args.vault.vault, &client, &args.block, &frames)?;
        println!("{}", serde_json::to_string_pretty(&answer).expect("serialisable"));
        return Ok(());
    }
    let nonce = args.nonce.as_deref().ok_or("give --nonce (the server's challenge), or --server")?;
    let engine = crate::load_engine(models)?;
    let now = clock()?;
    let mut vault = open_vault(&args.vault, now)?;
    let challenge = Challenge { nonce, block: &args.block };
    let result = checkin::check_in(&engine, &mut vault, &challenge, &frames, now)
        .map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    println!("{}", result.token);
    eprintln!("check-in: {}: {}", result.outcome, result.message());
    Ok(())
}

/// Erases the template and prints the signed receipt.
pub fn erase(args: EraseArgs) -> Result<(), String> {
    let now = clock()?;
    let vault = open_vault(&args.vault, now)?;
    if let Some(server) = &args.server {
        let client = Client::new(server)?;
        let answer = erase_at(vault, &args.vault, &client)?;
        println!("{}", serde_json::to_string_pretty(&answer).expect("serialisable"));
        return Ok(());
    }
    let block = args.block.as_deref().unwrap_or(ERASURE_NONCE);
    let challenge = args.nonce.as_deref().map(|nonce| Challenge { nonce, block });
    let receipt =
        checkin::erase(vault, challenge.as_ref(), now).map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    retire_key(&args.vault.key_file)?;
    println!("{receipt}");
    eprintln!(
        "erased: {} and its device key are destroyed, and {} holds a new key (a new enrollment uses it); deliver \
         the receipt above to the fleet",
        args.vault.vault.display(),
        args.vault.key_file.display()
    );
    Ok(())
}

/// Prints the vault's state as JSON.
pub fn status(args: StatusArgs) -> Result<(), String> {
    let now = clock()?;
    let vault = open_vault(&args.vault, now)?;
    let status = checkin::status(&vault, now).map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    println!("{}", serde_json::to_string_pretty(&status).expect("a status always serialises"));
    Ok(())
}

/// What `enroll --server` keeps next to the vault: where it registered and the fleet key that signs its evidence.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pin {
    server: String,
    fleet: String,
    driver: String,
    kid: String,
    fleet_key: String,
}

fn pin_path(vault: &Path) -> PathBuf {
    let mut name = vault.as_os_str().to_owned();
    name.push(".fleet.json");
    PathBuf::from(name)
}

/// The enrollment code as typed: letters, digits and dashes only (it goes into a URL path).
fn clean_code(code: &str) -> Result<String, String> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("an enrollment code is letters, digits and dashes (XXXX-XXXX-XXXX)".to_owned());
    }
    Ok(code)
}

/// The driver's acceptance of consent notice `asked` when `--consent-notice` was not given: a yes at a terminal, or,
/// from a script, the enrollment by the code itself (said on stderr).
fn accept_notice(asked: &str) -> Result<(), String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!("consent: enrolling by this code accepts the fleet's notice {asked} (recorded, with the time)");
        return Ok(());
    }
    eprint!("The fleet asks you to accept its consent notice {asked} (the app shows its text). Accept? [y/N] ");
    std::io::stderr().flush().map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(|e| e.to_string())?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(format!("consent to notice {asked} not given: nothing was enrolled"))
    }
}

/// `enroll --server`: looks the code up, enrolls with the code binding and the consent, registers, checks the
/// evidence, pins the fleet key. Returns the JSON printed.
#[allow(clippy::too_many_arguments)]
pub fn enroll_by_code(
    engine: &Engine,
    path: &Path,
    kek: &Kek,
    client: &Client,
    code: &str,
    consent_notice: Option<&str>,
    (fleet_given, driver_given): (Option<&str>, Option<&str>),
    selfies: &[Vec<u8>],
) -> Result<Value, String> {
    let code = clean_code(code)?;
    let lookup = client.get(&format!("/v1/enrollment-codes/{code}"))?;
    let fleet = client::field(&lookup, "fleet")?.to_owned();
    let driver = client::field(&lookup, "driver")?.to_owned();
    let fleet_key = client::ed25519_x(lookup.get("fleet_key").unwrap_or(&Value::Null))?;
    let asked = client::field(&lookup, "consent_notice")?.to_owned();
    match consent_notice {
        Some(given) if given != asked => {
            return Err(format!(
                "the fleet asks for consent to notice {asked:?}, not {given:?}: show the driver that notice and \
                 pass --consent-notice {asked}"
            ))
        }
        Some(_) => {}
        None => accept_notice(&asked)?,
    }
    let consent_notice = asked;
    for (given, named, what) in [(fleet_given, &fleet, "fleet"), (driver_given, &driver, "driver")] {
        if given.is_some_and(|g| g != named) {
            return Err(format!("the code is for {what} {named:?}, not {:?}", given.unwrap_or_default()));
        }
    }
    let now = clock()?;
    let context = EnrollmentContext {
        code: Some(CodeBinding::of_code(&code)),
        consent: Some(Consent { notice: consent_notice.clone(), accepted_at: now.wall }),
    };
    let enrolled = checkin::enroll_with(engine, path, kek, &driver, &fleet, selfies, &context, now)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let statement = enrolled.registration;
    let registered =
        post_idempotent(client, "/v1/registrations", &client::body("statement", &statement)).and_then(|answer| {
            let evidence = client::field(&answer, "evidence")?;
            client::check_evidence(
                evidence,
                &fleet_key,
                &fleet,
                &driver,
                EvidenceKind::Registration,
                &statement,
                "accepted",
            )?;
            Ok(answer)
        });
    let answer = match registered {
        Ok(answer) => answer,
        Err(e) => {
            // The fleet did not register the key (or its answer cannot be trusted): nothing it signs would count.
            let removed = enrolled.vault.destroy().is_ok();
            let what = if removed { "the new vault was removed" } else { "remove the new vault" };
            return Err(format!("{e}; {what}, enroll again with a valid code"));
        }
    };
    let kid = checkin::status(&enrolled.vault, now).map_err(|e| e.to_string())?.device_key_id;
    let pin =
        Pin { server: client.base().to_owned(), fleet, driver, kid: kid.clone(), fleet_key: client::b64(&fleet_key) };
    files::write_atomic(&pin_path(path), serde_json::to_string_pretty(&pin).expect("serialisable").as_bytes())?;
    Ok(json!({
        "status": client::field(&answer, "status")?,
        "kid": kid,
        "fleet": pin.fleet,
        "driver": pin.driver,
        "server": pin.server,
        "consent": {"notice": consent_notice, "accepted_at": now.wall},
        "statement_hash": facecheck_attest::statement_hash(&statement),
        "evidence": client::field(&answer, "evidence")?,
        "evidence_verified": true,
    }))
}

/// `POST` of a statement the service ingests idempotently (the same statement again gets the stored answer): sent
/// again, up to [`POST_ATTEMPTS`] times in all, when the answer did not come back (a lost connection after the
/// service recorded it must not cost the driver a new vault and a new code). A refusal is final.
fn post_idempotent(client: &Client, path: &str, body: &Value) -> Result<Value, client::ClientError> {
    let mut attempt = 1;
    loop {
        match client.post(path, body) {
            Err(client::ClientError::Unreachable { url, why }) if attempt < POST_ATTEMPTS => {
                eprintln!("warning: no answer from {url} ({why}); sending the same statement again");
                std::thread::sleep(std::time::Duration::from_secs(2 * attempt as u64));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// How many times [`post_idempotent`] sends a statement whose answer did not come back.
const POST_ATTEMPTS: u32 = 3;

/// The fleet key that signs this vault's evidence: the one pinned at enrollment, or (not pinned) the service's.
fn fleet_key(path: &Path, kid: &str, client: &Client) -> Result<[u8; 32], String> {
    if let Some(bytes) = files::read_if_present(&pin_path(path))? {
        let pin: Pin = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", pin_path(path).display()))?;
        if pin.kid == kid {
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": pin.fleet_key});
            return Ok(client::ed25519_x(&jwk)?);
        }
    }
    eprintln!("warning: no fleet key pinned for this device key; trusting the one the service names now");
    let answer = client.get("/v1/fleet-key")?;
    Ok(client::ed25519_x(answer.get("jwk").unwrap_or(&Value::Null))?)
}

/// `checkin --server`: challenge, clock and counter checks, check-in, submission, evidence. Returns the JSON printed.
pub fn checkin_at(
    engine: &Engine,
    vault: &mut Vault,
    path: &Path,
    client: &Client,
    block: &str,
    frames: &[Vec<u8>],
) -> Result<Value, String> {
    let status = checkin::status(vault, clock()?).map_err(|e| format!("{}: {e}", path.display()))?;
    if !status.enrolled {
        return Err(format!("{}: {}", path.display(), facecheck::Error::VaultNotEnrolled));
    }
    let kid = status.device_key_id;
    let fleet_key = fleet_key(path, &kid, client)?;
    let challenge = client.post("/v1/challenges", &json!({"kid": kid, "block": block}))?;
    let nonce = client::field(&challenge, "nonce")?;
    let block = client::field(&challenge, "block")?;
    let server_time = client::number(&challenge, "server_time")?;
    let last_counter = client::number(&challenge, "last_counter")?;
    let now = clock()?;
    let off = now.wall.abs_diff(server_time);
    if off > DEFAULT_SKEW_SECS {
        let way = if now.wall > server_time { "ahead of" } else { "behind" };
        return Err(format!(
            "this device's clock is {off} s {way} the fleet's (more than the {DEFAULT_SKEW_SECS} s the fleet accepts):              nothing was signed; set the clock and check in again"
        ));
    }
    let result = checkin::check_in_with(engine, vault, &Challenge { nonce, block }, Some(last_counter), frames, now)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let answer = post_idempotent(client, "/v1/checkins", &client::body("token", &result.token))?;
    let verdict = client::field(&answer, "verdict")?;
    let evidence = client::field(&answer, "evidence")?;
    let fleet = vault.fleet_id();
    let driver = vault.driver_id();
    client::check_evidence(evidence, &fleet_key, fleet, driver, EvidenceKind::Checkin, &result.token, verdict)?;
    Ok(json!({
        "verdict": verdict,
        "reason": answer.get("reason").cloned().unwrap_or(Value::Null),
        "checkin_id": answer.get("checkin_id").cloned().unwrap_or(Value::Null),
        "counter_gap": answer.get("counter_gap").cloned().unwrap_or(Value::Null),
        "outcome": result.outcome.as_str(),
        "message": result.message(),
        "block": block,
        "counter": vault.counter(),
        "statement_hash": facecheck_attest::statement_hash(&result.token),
        "evidence": evidence,
        "evidence_verified": true,
    }))
}

/// `erase --server`: erases (and retires the key file), delivers the receipt, checks the evidence. Returns the JSON
/// printed.
pub fn erase_at(vault: Vault, args: &VaultArgs, client: &Client) -> Result<Value, String> {
    let path = &args.vault;
    let now = clock()?;
    let kid = checkin::status(&vault, now).map_err(|e| format!("{}: {e}", path.display()))?.device_key_id;
    let fleet_key = fleet_key(path, &kid, client)?;
    let (fleet, driver) = (vault.fleet_id().to_owned(), vault.driver_id().to_owned());
    let receipt = checkin::erase(vault, None, now).map_err(|e| format!("{}: {e}", path.display()))?;
    retire_key(&args.key_file)?;
    let delivered = post_idempotent(client, "/v1/erasures", &client::body("receipt", &receipt)).and_then(|answer| {
        let evidence = client::field(&answer, "evidence")?;
        client::check_evidence(evidence, &fleet_key, &fleet, &driver, EvidenceKind::Erasure, &receipt, "erased")?;
        Ok(answer)
    });
    match delivered {
        Ok(answer) => Ok(json!({
            "status": client::field(&answer, "status")?,
            "statement_hash": facecheck_attest::statement_hash(&receipt),
            "evidence": client::field(&answer, "evidence")?,
            "evidence_verified": true,
        })),
        Err(e) => Err(format!(
            "the face was erased from {}, but the receipt was not delivered ({e}); deliver it later: {receipt}",
            path.display()
        )),
    }
}

/// This machine's clocks: the wall clock, and `CLOCK_BOOTTIME` where there is one (Linux).
pub fn clock() -> Result<Clock, String> {
    Ok(Clock::new(files::now()?, boot_time()))
}

/// Seconds since boot, counting through sleep (`CLOCK_BOOTTIME`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn boot_time() -> Option<u64> {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `time` is a valid, writable timespec for the duration of the call, and CLOCK_BOOTTIME is a clock id
    // every Linux since 2.6.39 knows; on failure the call returns -1 and `time` is not used.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut time) };
    if status == 0 {
        u64::try_from(time.tv_sec).ok()
    } else {
        None
    }
}

/// No monotonic clock that survives the process on this platform: the wall clock only.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn boot_time() -> Option<u64> {
    None
}

fn open_vault(args: &VaultArgs, now: Clock) -> Result<Vault, String> {
    let kek = read_kek(&args.key_file)?;
    Vault::open(&args.vault, &kek, now).map_err(|e| format!("{}: {e}", args.vault.display()))
}

/// Replaces the key file at `path` with a new random key, atomically: the new key goes to a private temp file next
/// to it (mode 0600, synced), which is renamed over it, and the folder synced. The erased vault's key is gone with
/// the old file.
fn retire_key(path: &Path) -> Result<(), String> {
    let kek = Kek::generate().map_err(|e| e.to_string())?;
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    let temp = PathBuf::from(name);
    // A leftover of an interrupted replacement holds a key that sealed nothing.
    let _ = std::fs::remove_file(&temp);
    files::write_new_private(&temp, kek.secret_bytes())?;
    let replaced = std::fs::rename(&temp, path).and_then(|()| match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => std::fs::File::open(".")?.sync_all(),
    });
    replaced.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("the vault was erased, but {} could not be replaced by a new key ({e}): delete it", path.display())
    })
}

fn read_kek(path: &Path) -> Result<Kek, String> {
    let bytes = files::read_private(path)?;
    let key: &[u8; KEK_LEN] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "{} is not a facecheck key file (expected {KEK_LEN} bytes, as `facecheck keygen` writes)",
            path.display()
        )
    })?;
    Ok(Kek::from_bytes(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Reads one HTTP request (headers and a Content-Length body) and returns its body.
    fn read_request(stream: &mut std::net::TcpStream) -> String {
        let mut data = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).expect("read");
            data.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return text[end + 4..end + 4 + length].to_owned();
                }
            }
            assert!(n > 0, "the connection closed mid-request");
        }
    }

    #[test]
    fn a_statement_whose_answer_was_lost_is_sent_again_and_the_stored_answer_counts() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = std::thread::spawn(move || {
            // The first copy arrives and is recorded, then the connection drops before the answer.
            let (mut first, _) = listener.accept().expect("accept");
            let first_body = read_request(&mut first);
            drop(first);
            let (mut second, _) = listener.accept().expect("accept");
            let second_body = read_request(&mut second);
            let answer = r#"{"status":"erased"}"#;
            write!(
                second,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            )
            .expect("answer");
            (first_body, second_body)
        });
        let client = Client::new(&base).expect("client");
        let body = client::body("receipt", "header.payload.signature");
        let answer = post_idempotent(&client, "/v1/erasures", &body).expect("delivered on the second try");
        assert_eq!(answer["status"], "erased");
        let (first, second) = server.join().expect("server");
        assert_eq!(first, second, "the same statement, byte for byte, both times");
        assert_eq!(first, body.to_string());
    }
}
