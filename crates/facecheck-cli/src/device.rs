//! The device commands: `keygen`, `enroll`, `checkin`, `erase`, `status`. They parse arguments, read and write
//! files and print; the policy is `facecheck::checkin`.
//!
//! A key file holds the 32 raw bytes of a vault's key-encryption key, readable by its owner only; every vault command
//! reads it with `--key-file` and refuses a file other users can read.

use crate::files;
use facecheck::checkin::{self, Challenge, ERASURE_NONCE};
use facecheck::vault::KEK_LEN;
use facecheck::{Kek, Vault};
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
    /// The fleet's opaque id of the driver.
    #[arg(long)]
    driver: String,
    /// The fleet id.
    #[arg(long)]
    fleet: String,
    /// Three to five selfies of the driver (JPEG or PNG).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// `facecheck checkin`.
#[derive(clap::Args)]
pub struct CheckinArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The server's challenge for this check-in.
    #[arg(long)]
    nonce: String,
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
    let engine = crate::load_engine(models)?;
    let now = files::now()?;
    let enrolled = checkin::enroll(&engine, &args.vault.vault, &kek, &args.driver, &args.fleet, &selfies, now)
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
    let engine = crate::load_engine(models)?;
    let now = files::now()?;
    let mut vault = open_vault(&args.vault, now)?;
    let challenge = Challenge { nonce: &args.nonce, block: &args.block };
    let result = checkin::check_in(&engine, &mut vault, &challenge, &frames, now)
        .map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    println!("{}", result.token);
    eprintln!("check-in: {}: {}", result.outcome, result.message());
    Ok(())
}

/// Erases the template and prints the signed receipt.
pub fn erase(args: EraseArgs) -> Result<(), String> {
    let now = files::now()?;
    let mut vault = open_vault(&args.vault, now)?;
    let block = args.block.as_deref().unwrap_or(ERASURE_NONCE);
    let challenge = args.nonce.as_deref().map(|nonce| Challenge { nonce, block });
    let receipt = checkin::erase(&mut vault, challenge.as_ref(), now)
        .map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    println!("{receipt}");
    eprintln!(
        "erased: the enrolled face is gone from {}; the vault keeps the device key for the receipt and a new \
         enrollment",
        args.vault.vault.display()
    );
    Ok(())
}

/// Prints the vault's state as JSON.
pub fn status(args: StatusArgs) -> Result<(), String> {
    let now = files::now()?;
    let vault = open_vault(&args.vault, now)?;
    let status = checkin::status(&vault, now).map_err(|e| format!("{}: {e}", args.vault.vault.display()))?;
    println!("{}", serde_json::to_string_pretty(&status).expect("a status always serialises"));
    Ok(())
}

fn open_vault(args: &VaultArgs, now: u64) -> Result<Vault, String> {
    let kek = read_kek(&args.key_file)?;
    Vault::open(&args.vault, &kek, now).map_err(|e| format!("{}: {e}", args.vault.display()))
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
