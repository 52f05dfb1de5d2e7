//! The storage layer: one schema, two backends (SQLite by default, PostgreSQL for several replicas).
//!
//! Every statement is written once, with `$1`-style placeholders that both backends accept, and run through
//! [`Db`] (the pool) or [`Tx`] (one transaction). Transactions on SQLite start with `BEGIN IMMEDIATE` (the write lock
//! is taken first, so a check and its write can never interleave with another writer's); on PostgreSQL the checked
//! rows are read `FOR UPDATE` ([`Tx::for_update`]) and every write is also guarded by a constraint or a conditional
//! `UPDATE ... WHERE`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::Row as _;

/// The migrations, shared by both backends (the schema uses only types both understand: TEXT and BIGINT).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A storage failure. Its message names the operation, never a value.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database URL is not `sqlite:PATH` or `postgres://...`.
    #[error("unsupported database URL: expected sqlite:PATH or postgres://...")]
    BadUrl,
    /// A unique constraint refused the write (another request got there first).
    #[error("a unique constraint refused the write")]
    Conflict,
    /// Any other database error.
    #[error("database error: {0}")]
    Other(sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> DbError {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return DbError::Conflict;
            }
        }
        DbError::Other(e)
    }
}

/// A bound parameter.
#[derive(Debug, Clone)]
pub enum Arg {
    /// An integer.
    I(i64),
    /// A text.
    S(String),
    /// A nullable text.
    OptS(Option<String>),
    /// A nullable integer.
    OptI(Option<i64>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::I(v)
    }
}
impl From<u64> for Arg {
    fn from(v: u64) -> Arg {
        Arg::I(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::S(v.to_owned())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::S(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::S(v.clone())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::OptS(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::OptS(v.map(str::to_owned))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::OptI(v)
    }
}

/// Builds a `Vec<Arg>` from a list of values.
#[macro_export]
#[doc(hidden)]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Arg::from($v)),*] };
}

/// One result row of either backend.
pub enum Row {
    /// From SQLite.
    Sqlite(SqliteRow),
    /// From PostgreSQL.
    Pg(PgRow),
}

impl Row {
    /// A non-null integer column (0 if it is null or not an integer: the schema makes that impossible).
    pub fn i64(&self, col: &str) -> i64 {
        self.opt_i64(col).unwrap_or(0)
    }

    /// A nullable integer column.
    pub fn opt_i64(&self, col: &str) -> Option<i64> {
        match self {
            Row::Sqlite(r) => r.try_get::<Option<i64>, _>(col).ok().flatten(),
            Row::Pg(r) => r.try_get::<Option<i64>, _>(col).ok().flatten(),
        }
    }

    /// A non-null text column (empty if null).
    pub fn str(&self, col: &str) -> String {
        self.opt_str(col).unwrap_or_default()
    }

    /// A nullable text column.
    pub fn opt_str(&self, col: &str) -> Option<String> {
        match self {
            Row::Sqlite(r) => r.try_get::<Option<String>, _>(col).ok().flatten(),
            Row::Pg(r) => r.try_get::<Option<String>, _>(col).ok().flatten(),
        }
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::I(v) => q.bind(v),
                Arg::S(v) => q.bind(v),
                Arg::OptS(v) => q.bind(v),
                Arg::OptI(v) => q.bind(v),
            };
        }
        q
    }};
}

/// The backend of a database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection pool of either backend.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite (WAL, `BEGIN IMMEDIATE` transactions).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Pg(PgPool),
}

/// One open transaction. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL.
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// The default database URL: `facecheck-fleet.db` in the working directory.
pub const DEFAULT_DB_URL: &str = "sqlite:facecheck-fleet.db";

impl Db {
    /// Opens a pool for `url` (`sqlite:PATH`, `sqlite://PATH`, `postgres://...`, `postgresql://...`), creating the
    /// SQLite file if needed. Does not migrate.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|_| DbError::BadUrl)?;
            // No ping before each use of a pooled connection (a round trip per query outside a transaction): a
            // connection the server dropped fails its next query, which the pool then discards, and that request
            // answers 503 for the client to retry.
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Pg(pool))
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(DbError::BadUrl);
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(DbError::BadUrl)
        }
    }

    /// Opens and migrates.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Runs the pending migrations (on PostgreSQL under sqlx's advisory lock, so replicas may start together).
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(p) => MIGRATOR.run(p).await?,
            Db::Pg(p) => MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// Runs a query outside a transaction and returns its rows.
    pub async fn rows(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, DbError> {
        Ok(match self {
            Db::Sqlite(p) => {
                bind_all!(sqlx::query(sql), args).fetch_all(p).await?.into_iter().map(Row::Sqlite).collect()
            }
            Db::Pg(p) => bind_all!(sqlx::query(sql), args).fetch_all(p).await?.into_iter().map(Row::Pg).collect(),
        })
    }

    /// Runs a query outside a transaction and returns its first row.
    pub async fn row(&self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }

    /// Runs a statement outside a transaction and returns the number of rows it changed.
    pub async fn exec(&self, sql: &str, args: Vec<Arg>) -> Result<u64, DbError> {
        Ok(match self {
            Db::Sqlite(p) => bind_all!(sqlx::query(sql), args).execute(p).await?.rows_affected(),
            Db::Pg(p) => bind_all!(sqlx::query(sql), args).execute(p).await?.rows_affected(),
        })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }
}

impl Tx {
    /// `" FOR UPDATE"` on PostgreSQL, nothing on SQLite (whose `BEGIN IMMEDIATE` already holds the write lock).
    pub fn for_update(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Pg(_) => " FOR UPDATE",
        }
    }

    /// Runs a query in the transaction and returns its rows.
    pub async fn rows(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, DbError> {
        Ok(match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query(sql), args).fetch_all(&mut **t).await?.into_iter().map(Row::Sqlite).collect()
            }
            Tx::Pg(t) => {
                bind_all!(sqlx::query(sql), args).fetch_all(&mut **t).await?.into_iter().map(Row::Pg).collect()
            }
        })
    }

    /// Runs a query in the transaction and returns its first row.
    pub async fn row(&mut self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }

    /// Runs a statement in the transaction and returns the number of rows it changed.
    pub async fn exec(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, DbError> {
        Ok(match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query(sql), args).execute(&mut **t).await?.rows_affected(),
            Tx::Pg(t) => bind_all!(sqlx::query(sql), args).execute(&mut **t).await?.rows_affected(),
        })
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Pg(t) => t.commit().await?,
        }
        Ok(())
    }
}
