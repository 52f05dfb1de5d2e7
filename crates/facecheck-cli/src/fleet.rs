//! The fleet commands: `registry add`, `registry revoke`, `attest verify`. They parse arguments, read and write
//! files and print; the checks are `facecheck_attest`'s.
//!
//! The registry (`--registry R.json`) and the counter state (`--state S.json`) are the JSON forms of
//! `facecheck_attest::Registry` and `CounterState`, replaced atomically on every change, each read-check-write under
//! an exclusive lock on `<file>.lock` (`files::lock_beside`), so concurrent commands on the same files take turns.
//!
//! The fleet a statement or token must be for is `--fleet`, or else the one fleet of every device in the registry;
//! a registry that names several fleets needs `--fleet`. It never comes from the token, nor from the entry of the key
//! that signed it: a device of another fleet in the same registry must not pass for one of this fleet's.
//!
//! A token argument is the token itself (a compact JWS), `-` for stdin, `@FILE`, or the path of a file holding it
//! (`files::token_argument`).

use crate::files;
use crate::output::{self, escaped};
use facecheck_attest::{
    verify_attestation, verify_erasure_receipt, verify_registration, Claims, CounterState, ErasureExpectations,
    Expectations, KeyId, RegistrationError, RegistrationExpectations, Registry, VerifyError,
    DEFAULT_ERASURE_MAX_AGE_SECS, DEFAULT_SKEW_SECS,
};
use std::path::{Path, PathBuf};

/// `facecheck registry ...`.
#[derive(clap::Subcommand)]
pub enum RegistryCommand {
    /// Verify a device registration statement (its proof of possession, fleet and age) and add the device.
    Add {
        /// The registry file; created if absent.
        #[arg(long)]
        registry: PathBuf,
        /// The fleet the statement must be for. Default: the fleet of the devices already in the registry, if they
        /// all belong to one (required for an empty registry).
        #[arg(long)]
        fleet: Option<String>,
        /// The driver the statement must be for, if the fleet knows who enrolled.
        #[arg(long)]
        driver: Option<String>,
        /// How old (or how far in the future) the statement may be, in seconds.
        #[arg(long, default_value_t = DEFAULT_SKEW_SECS)]
        skew: u64,
        /// The registration statement printed by `facecheck enroll`: the statement itself, `-` to read it from stdin,
        /// or a file holding it (`@FILE`, or just FILE when the argument is not of the form `xxx.yyy.zzz` with
        /// base64url characters only).
        statement: String,
    },
    /// Revoke a device key: nothing it signs verifies any more (it stays listed, and cannot be added again).
    Revoke {
        /// The registry file.
        #[arg(long)]
        registry: PathBuf,
        /// The device key id (base64url: it may begin with a dash).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// `facecheck attest ...`.
#[derive(clap::Subcommand)]
pub enum AttestCommand {
    /// Verify a check-in attestation or erasure receipt and print its claims as JSON.
    Verify {
        /// The registry file.
        #[arg(long)]
        registry: PathBuf,
        /// The challenge the server issued for this check-in.
        #[arg(long)]
        nonce: String,
        /// The fleet verifying. Default: the fleet of the devices in the registry, if they all belong to one
        /// (required when the registry names several fleets).
        #[arg(long)]
        fleet: Option<String>,
        /// The last counter accepted per device: the token must go beyond it, and its counter is then recorded
        /// (the file is created if absent), so a replayed token fails.
        #[arg(long)]
        state: Option<PathBuf>,
        /// How far the token's issue time may be from now, in seconds.
        #[arg(long, default_value_t = DEFAULT_SKEW_SECS)]
        skew: u64,
        /// The token printed by `facecheck checkin` or `facecheck erase`: the token itself, `-` to read it from
        /// stdin, or a file holding it (`@FILE`, or just FILE when the argument is not of the form `xxx.yyy.zzz`
        /// with base64url characters only).
        token: String,
    },
}

/// Runs a `registry` command.
pub fn registry(command: RegistryCommand) -> Result<(), String> {
    match command {
        RegistryCommand::Add { registry: path, fleet, driver, skew, statement } => {
            let _lock = files::lock_beside(&path)?;
            let mut registry = load_registry(&path, true)?;
            let fleet = fleet_of(fleet, &registry, &path)?;
            let statement = files::token_argument(&statement)?;
            let expected = RegistrationExpectations {
                fleet: &fleet,
                driver: driver.as_deref(),
                now_unix: files::now()?,
                skew_secs: skew,
                max_age_secs: skew,
            };
            let verified = verify_registration(&statement, &expected).map_err(|e| match e {
                RegistrationError::Stale { .. } => {
                    format!("registration rejected: {e} (pass a larger --skew to accept an older statement)")
                }
                _ => format!("registration rejected: {e}"),
            })?;
            let kid = registry.register(&verified).map_err(|e| format!("{}: {e}", path.display()))?;
            files::write_atomic(&path, &registry.to_json_bytes())?;
            println!("{kid}");
            eprintln!(
                "registered device key {kid} for driver {} in fleet {}",
                escaped(verified.driver()),
                escaped(&fleet)
            );
            Ok(())
        }
        RegistryCommand::Revoke { registry: path, kid } => {
            let kid = KeyId::parse(kid.trim()).map_err(|e| e.to_string())?;
            let _lock = files::lock_beside(&path)?;
            let mut registry = load_registry(&path, false)?;
            registry.revoke(&kid).map_err(|e| format!("{}: {e}", path.display()))?;
            files::write_atomic(&path, &registry.to_json_bytes())?;
            eprintln!("revoked device key {kid}");
            Ok(())
        }
    }
}

/// Runs an `attest` command.
pub fn attest(command: AttestCommand) -> Result<(), String> {
    let AttestCommand::Verify { registry: path, nonce, fleet, state, skew, token } = command;
    let registry = load_registry(&path, false)?;
    let fleet = fleet_of(fleet, &registry, &path)?;
    let token = files::token_argument(&token)?;
    let now = files::now()?;
    let rejected = |e: VerifyError| format!("attestation rejected: {e}");
    let expected =
        Expectations { fleet: &fleet, nonce: &nonce, driver: None, block: None, now_unix: now, skew_secs: skew };
    // Held until the recorded counter is written: the state is read, checked and written by one command at a time.
    let _lock = state.as_deref().map(files::lock_beside).transpose()?;
    let mut counters = match &state {
        None => None,
        Some(state_path) => Some(match files::read_if_present(state_path)? {
            None => CounterState::new(),
            Some(bytes) => {
                CounterState::from_json_bytes(&bytes).map_err(|e| format!("{}: {e}", state_path.display()))?
            }
        }),
    };
    // A check-in, or else an erasure receipt (verified by key, counter and a 30-day maximum age, not the nonce).
    let (kid, claims) = match verify_attestation(&token, &registry, &expected, None) {
        Err(VerifyError::NotACheckIn { .. }) => {
            let erasure = ErasureExpectations {
                fleet: &fleet,
                now_unix: now,
                max_age_secs: DEFAULT_ERASURE_MAX_AGE_SECS,
                skew_secs: skew,
            };
            let verified = verify_erasure_receipt(&token, &registry, &erasure, None).map_err(rejected)?;
            if let Some(counters) = &mut counters {
                counters.record_erasure(&verified).map_err(rejected)?;
            }
            (verified.key_id().clone(), verified.claims().clone())
        }
        verified => {
            let verified = verified.map_err(rejected)?;
            if let Some(counters) = &mut counters {
                counters.record(&verified).map_err(rejected)?;
            }
            (verified.key_id().clone(), verified.into_claims())
        }
    };
    if let (Some(state_path), Some(counters)) = (&state, &counters) {
        // Recorded before the claims are shown, so a crash cannot accept the same counter twice.
        files::write_atomic(state_path, &counters.to_json_bytes())?;
    }
    println!("{}", claims_json(&kid, &claims));
    Ok(())
}

/// The verified claims as a JSON object, `iss` included, escaped for a terminal.
fn claims_json(kid: &KeyId, claims: &Claims) -> String {
    let mut json = serde_json::to_value(claims).expect("claims always serialise");
    if let Some(object) = json.as_object_mut() {
        object.insert("iss".to_owned(), kid.as_str().into());
    }
    output::json_escaped(&serde_json::to_string_pretty(&json).expect("a JSON value always serialises"))
}

/// `--fleet`, or else the fleet every device of `registry` (at `path`) belongs to.
fn fleet_of(given: Option<String>, registry: &Registry, path: &Path) -> Result<String, String> {
    given
        .or_else(|| only_fleet(registry))
        .ok_or_else(|| format!("{}: the registry does not name a single fleet; pass --fleet", path.display()))
}

/// The fleet every device of `registry` belongs to, if there are devices and they agree.
fn only_fleet(registry: &Registry) -> Option<String> {
    let mut fleets = registry.iter().map(|(_, device)| device.fleet());
    let first = fleets.next()?;
    fleets.all(|f| f == first).then(|| first.to_owned())
}

fn load_registry(path: &Path, create: bool) -> Result<Registry, String> {
    match files::read_if_present(path)? {
        Some(bytes) => Registry::from_json_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        None if create => Ok(Registry::new()),
        None => Err(format!("{}: no such registry", path.display())),
    }
}
