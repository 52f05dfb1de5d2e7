//! The Facecheck fleet service: the relying party that decides which device keys speak for which driver, hands
//! out challenges, verifies and keeps every signed statement, and shows admins what needs a person.
//!
//! The protocol is `openapi.yaml` beside this crate's `Cargo.toml`; the binary is `facecheck-fleet`
//! (`serve`, `migrate`, `admin ...`, see `src/main.rs`).
//!
//! # Test-support API (for the concurrency, crash, fuzz, browser and load tests)
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // A server on 127.0.0.1 with a free port, on a fresh SQLite file (or any `postgres://` URL).
//! let server = facecheck_fleet::testing::TestServer::start("sqlite:/tmp/fleet-test.db").await?;
//! let base = server.url();                                  // "http://127.0.0.1:PORT"
//! let token = server.admin_token().await?;                  // an admin token (Bearer, or the login form)
//! let code = server.enrollment_code("fleet-1", "driver-1").await?;   // "XXXX-XXXX-XXXX"
//! let fleet_key = server.fleet_public_key();                // to check evidence with `verify_evidence`
//! # let _ = (base, token, code, fleet_key);
//! server.shutdown().await;                                  // graceful; dropping it aborts the server
//! # Ok(()) }
//! ```
//!
//! `testing::fresh_postgres_url(base)` makes a new, empty database on the server of `base` (a `postgres://` URL,
//! e.g. `FACECHECK_TEST_POSTGRES_URL`) and returns its URL, so each test has its own. [`serve`] runs the service on
//! a bound listener until a shutdown future completes; [`open_service`] opens and migrates a database and loads
//! (or makes) the fleet key; [`web::router`] is the whole axum application.
//!
//! # Storage and concurrency
//!
//! One schema (`migrations/`) for SQLite and PostgreSQL. Every single-use or monotonic fact is checked and consumed
//! in one transaction (`BEGIN IMMEDIATE` on SQLite; `SELECT ... FOR UPDATE` on PostgreSQL, or, for check-ins, an
//! `UPDATE` conditional on the key's counter read before), with a unique constraint or conditional `UPDATE` behind
//! each write, so several replicas on one PostgreSQL agree: the same token sent 50 times in parallel is accepted
//! once and the other 49 get the same stored answer. Challenges are not stored ([`challenge`]): a nonce is sealed
//! by the service and used once by the unique nonce of its check-in.
//!
//! # Logs
//!
//! `tracing`, with ids (key ids, driver ids, check-in ids) and outcomes only: never a token, a signature, an
//! enrollment code, an admin token or a session id.

#![forbid(unsafe_code)]

pub mod auth;
pub mod challenge;
pub mod codes;
pub mod db;
pub mod error;
pub mod service;
pub mod testing;
pub mod util;
pub mod views;
pub mod web;

use std::future::Future;

pub use db::{Db, DbError, DEFAULT_DB_URL};
pub use service::{liveness_method_is_enough, Config, Policy, PolicyChange, Service};

/// Opens (and migrates) the database at `url` and loads or makes the fleet key.
pub async fn open_service(url: &str, config: Config) -> Result<Service, DbError> {
    let db = Db::open(url).await?;
    Service::new(db, config).await
}

/// How long a client may take to send a request's headers before its connection is closed.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `service` on `listener` until `shutdown` completes, then finishes the requests in flight (for at most
/// 10 s). HTTP/1.1; a connection that does not send its headers within [`HEADER_READ_TIMEOUT`] is closed, and a
/// request whose body stalls is answered 408 after [`web::REQUEST_TIMEOUT`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let app = web::router(service);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
    }
    Ok(())
}
