//! Test support: a real server on loopback, admin tokens and enrollment codes, fresh PostgreSQL databases.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::db::DbError;
use crate::service::{Config, Service};

/// A running service on `127.0.0.1:<free port>`.
pub struct TestServer {
    addr: SocketAddr,
    service: Service,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Opens and migrates `db_url` and serves it on a free loopback port.
    pub async fn start(db_url: &str) -> Result<TestServer, Box<dyn std::error::Error + Send + Sync>> {
        TestServer::start_with(db_url, Config::default()).await
    }

    /// [`start`](Self::start) with settings (the public URL is set to the bound address).
    pub async fn start_with(
        db_url: &str,
        mut config: Config,
    ) -> Result<TestServer, Box<dyn std::error::Error + Send + Sync>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        config.public_url = format!("http://{addr}");
        let service = crate::open_service(db_url, config).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve(listener, service.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(TestServer { addr, service, stop: Some(stop), task: Some(task) })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service (database, fleet key).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The fleet's raw Ed25519 public key.
    pub fn fleet_public_key(&self) -> [u8; 32] {
        self.service.fleet_key.public_key()
    }

    /// A new admin token.
    pub async fn admin_token(&self) -> Result<String, DbError> {
        crate::auth::create_token(&self.service.db).await
    }

    /// A new enrollment code for `driver` of `fleet` (valid 24 h).
    pub async fn enrollment_code(&self, fleet: &str, driver: &str) -> Result<String, crate::error::ApiError> {
        Ok(self.service.create_code("test", fleet, driver, None).await?.0)
    }

    /// Stops accepting, finishes the requests in flight, closes the pool.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.service.db.close().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Creates a new empty database on the PostgreSQL server of `base_url` and returns its URL.
pub async fn fresh_postgres_url(base_url: &str) -> Result<String, DbError> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    let name = format!("fc_test_{}", crate::util::random_id().to_lowercase().replace(['-', '_'], ""));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
    conn.close().await?;
    let mut url = url::Url::parse(base_url).map_err(|_| DbError::BadUrl)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}
