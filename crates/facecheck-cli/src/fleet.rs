//! The fleet commands: `registry add`, `registry revoke`, `attest verify`. They parse arguments, read and write
//! files and print; the checks are `facecheck_attest`'s.
//!
//! The registry (`--registry R.json`) and the counter state (`--state S.json`) are the JSON forms of
//! `facecheck_attest::Registry` and `CounterState`, replaced atomically on every change, each read-check-write under
//! an exclusive lock on `<file>.lock` (`files::lock_beside`), so concurrent commands on the same files take turns.

use crate::files;
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
        /// The registration statement printed by `facecheck enroll`, or `-` to read it from stdin.
        statement: String,
    },
    /// Revoke a device key: nothing it signs verifies any more (it stays listed, and cannot be added again).
    Revoke {
        /// The registry file.
        #[arg(long)]
        registry: PathBuf,
        /// The device key id.
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
        /// The fleet verifying. Default: the fleet the signing device is registered with.
        #[arg(long)]
        fleet: Option<String>,
        /// The last counter accepted per device: the token must go beyond it, and its counter is then recorded
        /// (the file is created if absent), so a replayed token fails.
        #[arg(long)]
        state: Option<PathBuf>,
        /// How far the token's issue time may be from now, in seconds.
        #[arg(long, default_value_t = DEFAULT_SKEW_SECS)]
        skew: u64,
        /// The token printed by `facecheck checkin` or `facecheck erase`, or `-` to read it from stdin.
        token: String,
    },
}

/// Runs a `registry` command.
pub fn registry(command: RegistryCommand) -> Result<(), String> {
    match command {
        RegistryCommand::Add { registry: path, fleet, driver, skew, statement } => {
            let _lock = files::lock_beside(&path)?;
            let mut registry = load_registry(&path, true)?;
            let fleet = match fleet {
                Some(fleet) => fleet,
                None => only_fleet(&registry).ok_or_else(|| {
                    format!("{}: the registry does not name a single fleet; pass --fleet", path.display())
                })?,
            };
            let statement = files::argument_or_stdin(&statement)?;
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
            eprintln!("registered device key {kid} for driver {} in fleet {fleet}", verified.driver());
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
    let token = files::argument_or_stdin(&token)?;
    let now = files::now()?;
    let rejected = |e: VerifyError| format!("attestation rejected: {e}");
    let fleet = match fleet {
        Some(fleet) => fleet,
        None => registered_fleet(&token, &registry, &nonce, now, skew).map_err(rejected)?,
    };
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

/// The fleet the device that signed `token` is registered with.
///
/// `verify_attestation` runs every check that does not depend on the fleet (encoding, algorithm, key lookup,
/// revocation, signature, claims, issuer, driver) before the audience check, and its errors from the key lookup on
/// name the key. So verifying against a fleet no device belongs to either fails at one of the fleet-independent
/// checks (the error to report anyway) or at the audience, whose error names the registry entry to read the fleet
/// from.
fn registered_fleet(token: &str, registry: &Registry, nonce: &str, now: u64, skew: u64) -> Result<String, VerifyError> {
    let no_fleet = Expectations { fleet: "", nonce, driver: None, block: None, now_unix: now, skew_secs: skew };
    match verify_attestation(token, registry, &no_fleet, None) {
        Ok(verified) => Ok(verified.fleet().to_owned()),
        Err(e @ (VerifyError::AudienceMismatch { .. } | VerifyError::DeviceNotInFleet { .. })) => {
            let fleet = e.key_id().and_then(|kid| registry.lookup(kid)).map(|device| device.fleet().to_owned());
            fleet.ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// The verified claims as a JSON object, `iss` included.
fn claims_json(kid: &KeyId, claims: &Claims) -> String {
    let mut json = serde_json::to_value(claims).expect("claims always serialise");
    if let Some(object) = json.as_object_mut() {
        object.insert("iss".to_owned(), kid.as_str().into());
    }
    serde_json::to_string_pretty(&json).expect("a JSON value always serialises")
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
