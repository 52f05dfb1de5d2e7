//! Admin tokens and sessions. Tokens (from `admin create-token`) and session ids are stored only as salted-by-domain
//! SHA-256 hashes; a session carries its own CSRF token, checked on every form.

use crate::args;
use crate::db::{Db, DbError};
use crate::util;

/// How long an admin session lasts: 12 hours.
pub const SESSION_SECS: i64 = 12 * 3600;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "fc_session";

/// The login form's CSRF cookie (a double-submit token, before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "fc_login_csrf";

/// A logged-in admin session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The admin token it was opened with (its id, not the token).
    pub token_id: String,
    /// The CSRF token every form must carry.
    pub csrf: String,
}

impl Session {
    /// The audit-log actor.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.token_id)
    }
}

/// Makes a new admin token, stores its hash, and returns the token (shown once).
pub async fn create_token(db: &Db) -> Result<String, DbError> {
    let token = format!("fca_{}", util::random_secret());
    let id = util::random_id();
    db.exec(
        "INSERT INTO admin_tokens (id, token_hash, created_at) VALUES ($1, $2, $3)",
        args![&id, util::secret_hash("admin-token", &token), util::now()],
    )
    .await?;
    tracing::info!(token_id = id, "admin token created");
    Ok(token)
}

/// The id of the admin token `token`, if it is valid.
pub async fn check_token(db: &Db, token: &str) -> Result<Option<String>, DbError> {
    if token.len() > 200 {
        return Ok(None);
    }
    let row = db
        .row(
            "SELECT id FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            args![util::secret_hash("admin-token", token.trim())],
        )
        .await?;
    Ok(row.map(|r| r.str("id")))
}

/// Opens a session for a valid admin token: returns (session id for the cookie, session).
pub async fn open_session(db: &Db, token_id: &str) -> Result<(String, Session), DbError> {
    let sid = util::random_secret();
    let csrf = util::random_secret();
    let now = util::now();
    db.exec(
        "INSERT INTO admin_sessions (session_hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        args![util::secret_hash("session", &sid), token_id, &csrf, now, now + SESSION_SECS],
    )
    .await?;
    db.exec("DELETE FROM admin_sessions WHERE expires_at < $1", args![now]).await?;
    tracing::info!(token_id, "admin session opened");
    Ok((sid, Session { token_id: token_id.to_owned(), csrf }))
}

/// The session of a session id, if it is open and unexpired.
pub async fn session(db: &Db, sid: &str) -> Result<Option<Session>, DbError> {
    if sid.len() > 100 {
        return Ok(None);
    }
    let row = db
        .row(
            "SELECT s.token_id, s.csrf FROM admin_sessions s JOIN admin_tokens t ON t.id = s.token_id \
             WHERE s.session_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
            args![util::secret_hash("session", sid), util::now()],
        )
        .await?;
    Ok(row.map(|r| Session { token_id: r.str("token_id"), csrf: r.str("csrf") }))
}

/// Closes a session.
pub async fn close_session(db: &Db, sid: &str) -> Result<(), DbError> {
    db.exec("DELETE FROM admin_sessions WHERE session_hash = $1", args![util::secret_hash("session", sid)]).await?;
    Ok(())
}
