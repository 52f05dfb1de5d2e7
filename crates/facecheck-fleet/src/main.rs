//! `facecheck-fleet`: the fleet service and its admin commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use facecheck_attest::LivenessMethod;
use facecheck_fleet::{auth, views, Config, Db, PolicyChange, DEFAULT_DB_URL};

#[derive(Parser)]
#[command(name = "facecheck-fleet", version, about = "The Facecheck fleet service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrates the database first).
    Serve {
        /// `sqlite:PATH` (default: facecheck-fleet.db in the working directory) or `postgres://...`.
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        /// The address to listen on. TLS is a reverse proxy's job: keep this on loopback behind it.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The base URL devices reach the service at, put into enrollment QR codes. Default: http://LISTEN.
        #[arg(long)]
        public_url: Option<String>,
        /// Mark the session cookie `Secure` (set it when the reverse proxy serves HTTPS).
        #[arg(long)]
        secure_cookies: bool,
    },
    /// Create or upgrade the schema.
    Migrate {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
    },
    /// Admin commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print a new admin token (for the admin page's login and the admin API); only its hash is stored.
    CreateToken {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
    },
    /// Print a new single-use enrollment code for a driver (alone on standard output; with --qr-payload, its QR
    /// payload on a second line).
    EnrollmentCode {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        #[arg(long)]
        fleet: String,
        #[arg(long)]
        driver: String,
        /// Validity in seconds (default: the fleet's, 24 h).
        #[arg(long)]
        ttl: Option<i64>,
        /// The service's base URL for the QR payload.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Also print the QR payload (server, fleet, driver, code, fleet key), on a second line.
        #[arg(long)]
        qr_payload: bool,
    },
    /// Print the recorded check-ins, newest first.
    Checkins {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        /// Only this driver's.
        #[arg(long)]
        driver: Option<String>,
        /// Print a JSON array (driver, block, outcome, counter, verdict, received time, ...).
        #[arg(long)]
        json: bool,
    },
    /// Print the open reviews as JSON.
    Reviews {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        /// Include resolved ones.
        #[arg(long)]
        all: bool,
    },
    /// Resolve a review with a note.
    Resolve {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        /// The review id (base64url: it may begin with a dash).
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// `cleared` (the driver's failed attempts stop counting) or `upheld`.
        #[arg(long, default_value = "cleared")]
        resolution: String,
        #[arg(long)]
        note: String,
    },
    /// Revoke a device key.
    Revoke {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        /// The device key id (base64url: it may begin with a dash).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Print the device keys as JSON.
    Devices {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
    },
    /// Show or change a fleet's policy (printed as JSON).
    Policy {
        #[arg(long, default_value = DEFAULT_DB_URL)]
        db: String,
        #[arg(long)]
        fleet: String,
        /// Failed attempts (no_match, spoof_suspected) per driver per rolling 24 h before a match needs a person.
        #[arg(long)]
        failed_attempt_limit: Option<i64>,
        /// Comma-separated key kinds the fleet accepts (today: ed25519).
        #[arg(long, value_delimiter = ',')]
        accepted_key_kinds: Option<Vec<String>>,
        /// Enrollment code validity, seconds.
        #[arg(long)]
        code_ttl: Option<i64>,
        /// Challenge validity, seconds.
        #[arg(long)]
        challenge_ttl: Option<i64>,
        /// The liveness check every challenge asks for: passive (one still) or active (the head-turn challenge).
        #[arg(long, value_parser = parse_liveness)]
        liveness: Option<LivenessMethod>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("facecheck-fleet: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("facecheck-fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn parse_liveness(text: &str) -> std::result::Result<LivenessMethod, String> {
    LivenessMethod::parse(text).ok_or_else(|| format!("'{text}' is not a liveness method: passive or active"))
}

fn api_err(e: facecheck_fleet::error::ApiError) -> Box<dyn std::error::Error> {
    format!("{} ({})", e.message, e.code).into()
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve { db, listen, public_url, secure_cookies } => {
            // The database first: once the port answers, the schema and the fleet key exist.
            let addr: std::net::SocketAddr = listen.parse().map_err(|_| format!("not an address: {listen}"))?;
            let config = Config {
                public_url: public_url.unwrap_or_else(|| format!("http://{addr}")),
                secure_cookies,
                ..Config::default()
            };
            let service = facecheck_fleet::open_service(&db, config).await?;
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, backend = ?service.db.backend(), fleet_key = %service.fleet_key.key_id(), "serving");
            facecheck_fleet::serve(listener, service.clone(), shutdown_signal()).await?;
            service.db.close().await;
            Ok(())
        }
        Command::Migrate { db } => {
            Db::open(&db).await?.close().await;
            eprintln!("migrated");
            Ok(())
        }
        Command::Admin { command } => admin(command).await,
    }
}

async fn service(db: &str, server: Option<String>) -> Result<facecheck_fleet::Service> {
    let mut config = Config::default();
    if let Some(server) = server {
        config.public_url = server;
    }
    Ok(facecheck_fleet::open_service(db, config).await?)
}

async fn admin(command: AdminCommand) -> Result<()> {
    let print = |v: &serde_json::Value| println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    match command {
        AdminCommand::CreateToken { db } => {
            let db = Db::open(&db).await?;
            println!("{}", auth::create_token(&db).await?);
            db.close().await;
        }
        AdminCommand::EnrollmentCode { db, fleet, driver, ttl, server, qr_payload } => {
            let s = service(&db, Some(server)).await?;
            let (code, expires_at, payload) = s.create_code("cli", &fleet, &driver, ttl).await.map_err(api_err)?;
            println!("{code}");
            if qr_payload {
                println!("{payload}");
            }
            eprintln!("valid until {} UTC, single use", facecheck_fleet::util::format_time(expires_at));
            s.db.close().await;
        }
        AdminCommand::Checkins { db, driver, json } => {
            let db = Db::open(&db).await?;
            let rows = views::checkins(&db, driver.as_deref(), None, 100_000).await?;
            if json {
                print(&serde_json::Value::Array(rows));
            } else {
                for r in rows {
                    println!(
                        "{}  {:<16} {:<24} {:<16} ctr {:<6} {}{}",
                        r["received"].as_str().unwrap_or(""),
                        r["driver"].as_str().unwrap_or(""),
                        r["block"].as_str().unwrap_or(""),
                        r["outcome"].as_str().unwrap_or(""),
                        r["counter"],
                        r["verdict"].as_str().unwrap_or(""),
                        r["reason"].as_str().filter(|s| !s.is_empty()).map(|s| format!(" ({s})")).unwrap_or_default(),
                    );
                }
            }
            db.close().await;
        }
        AdminCommand::Reviews { db, all } => {
            let db = Db::open(&db).await?;
            print(&serde_json::Value::Array(views::reviews(&db, !all, 100_000).await?));
            db.close().await;
        }
        AdminCommand::Resolve { db, id, resolution, note } => {
            let s = service(&db, None).await?;
            print(&s.resolve_review("cli", &id, &resolution, &note).await.map_err(api_err)?);
            s.db.close().await;
        }
        AdminCommand::Revoke { db, kid } => {
            let s = service(&db, None).await?;
            print(&s.revoke_key("cli", &kid).await.map_err(api_err)?);
            s.db.close().await;
        }
        AdminCommand::Devices { db } => {
            let db = Db::open(&db).await?;
            print(&serde_json::Value::Array(views::devices(&db).await?));
            db.close().await;
        }
        AdminCommand::Policy {
            db,
            fleet,
            failed_attempt_limit,
            accepted_key_kinds,
            code_ttl,
            challenge_ttl,
            liveness,
        } => {
            let s = service(&db, None).await?;
            let change = PolicyChange {
                failed_attempt_limit,
                accepted_key_kinds,
                code_ttl_secs: code_ttl,
                challenge_ttl_secs: challenge_ttl,
                liveness,
            };
            let policy = if change.is_empty() {
                s.policy(&fleet).await?
            } else {
                s.set_policy("cli", &fleet, &change).await.map_err(api_err)?
            };
            print(&serde_json::to_value(policy)?);
            s.db.close().await;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
