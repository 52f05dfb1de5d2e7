//! What admins read: check-ins, reviews, devices, the audit log (for the page, the admin API and the CLI).

use serde_json::{json, Value};

use crate::args;
use crate::db::{Arg, Db, DbError};
use crate::util;

/// Recorded check-ins, newest first: all, or one driver's, received at or after `since`.
pub async fn checkins(db: &Db, driver: Option<&str>, since: Option<i64>, limit: i64) -> Result<Vec<Value>, DbError> {
    let mut sql = "SELECT id, kid, fleet, driver, block, counter, counter_gap, outcome, attempts, liveness, \
                   liveness_method, verdict, reason, issued_at, received_at FROM checkins WHERE received_at >= $1"
        .to_owned();
    let mut params: Vec<Arg> = args![since.unwrap_or(0)];
    if let Some(driver) = driver {
        sql.push_str(" AND driver = $2");
        params.push(driver.into());
    }
    sql.push_str(&format!(" ORDER BY received_at DESC, counter DESC LIMIT {}", limit.clamp(1, 100_000)));
    let rows = db.rows(&sql, params).await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.str("id"), "kid": r.str("kid"), "fleet": r.str("fleet"), "driver": r.str("driver"),
                "block": r.str("block"), "outcome": r.str("outcome"), "counter": r.i64("counter"),
                "counter_gap": r.i64("counter_gap"), "attempts": r.i64("attempts"), "liveness": r.i64("liveness") == 1,
                "liveness_method": r.str("liveness_method"),
                "verdict": r.str("verdict"), "reason": r.str("reason"), "issued_at": r.i64("issued_at"),
                "received_at": r.i64("received_at"), "received": util::rfc3339(r.i64("received_at")),
            })
        })
        .collect())
}

/// Check-ins received at or after `since`, counted per block (all of them, however many), by block name.
pub async fn blocks(db: &Db, since: i64) -> Result<Vec<Value>, DbError> {
    let sql = "SELECT block, COUNT(*) AS total, \
               SUM(CASE WHEN verdict = 'accepted' THEN 1 ELSE 0 END) AS accepted, \
               SUM(CASE WHEN verdict = 'review' THEN 1 ELSE 0 END) AS review \
               FROM checkins WHERE received_at >= $1 GROUP BY block ORDER BY block";
    let rows = db.rows(sql, args![since]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (total, accepted, review) = (r.i64("total"), r.i64("accepted"), r.i64("review"));
            json!({"block": r.str("block"), "total": total, "accepted": accepted, "review": review,
                   "refused": total - accepted - review})
        })
        .collect())
}

/// How many reviews wait for a person.
pub async fn open_reviews(db: &Db) -> Result<i64, DbError> {
    let row = db.row("SELECT COUNT(*) AS n FROM reviews WHERE status = 'open'", args![]).await?;
    Ok(row.map_or(0, |r| r.i64("n")))
}

/// Reviews, oldest first: open ones (`open = true`) or all.
pub async fn reviews(db: &Db, open: bool, limit: i64) -> Result<Vec<Value>, DbError> {
    let sql = format!(
        "SELECT r.id, r.fleet, r.driver, r.kid, r.kind, r.checkin_id, r.request_ref, r.detail, r.created_at, r.status, \
         r.resolution, r.note, r.resolved_at, r.resolved_by, c.block AS block, c.outcome AS outcome \
         FROM reviews r LEFT JOIN checkins c ON c.id = r.checkin_id {} ORDER BY r.created_at ASC, r.id LIMIT {}",
        if open { "WHERE r.status = 'open'" } else { "" },
        limit.clamp(1, 100_000)
    );
    let rows = db.rows(&sql, args![]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.str("id"), "fleet": r.str("fleet"), "driver": r.str("driver"), "kid": r.opt_str("kid"),
                "kind": r.str("kind"), "checkin_id": r.opt_str("checkin_id"), "request_ref": r.opt_str("request_ref"),
                "detail": r.str("detail"), "created_at": r.i64("created_at"),
                "created": util::format_time(r.i64("created_at")), "status": r.str("status"),
                "resolution": r.opt_str("resolution"), "note": r.opt_str("note"), "resolved_at": r.opt_i64("resolved_at"),
                "resolved_by": r.opt_str("resolved_by"), "block": r.opt_str("block"), "outcome": r.opt_str("outcome"),
            })
        })
        .collect())
}

/// Device keys with their drivers, by fleet, driver and registration time.
pub async fn devices(db: &Db) -> Result<Vec<Value>, DbError> {
    let rows = db
        .rows(
            "SELECT kid, fleet, driver, algorithm, attestation, status, last_counter, registered_at, status_changed_at, \
             consent_notice, consent_at FROM device_keys ORDER BY fleet, driver, registered_at DESC",
            args![],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "kid": r.str("kid"), "fleet": r.str("fleet"), "driver": r.str("driver"),
                "algorithm": r.str("algorithm"), "attested": r.opt_str("attestation").is_some(),
                "status": r.str("status"), "last_counter": r.i64("last_counter"),
                "registered_at": r.i64("registered_at"), "registered": util::format_time(r.i64("registered_at")),
                "status_changed_at": r.i64("status_changed_at"), "consent_notice": r.str("consent_notice"),
                "consent_at": r.i64("consent_at"),
            })
        })
        .collect())
}

/// The newest audit entries.
pub async fn audit_log(db: &Db, limit: i64) -> Result<Vec<Value>, DbError> {
    let sql = format!(
        "SELECT at, actor, action, fleet, driver, kid, detail FROM audit_log ORDER BY at DESC, id LIMIT {}",
        limit.clamp(1, 100_000)
    );
    let rows = db.rows(&sql, args![]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "at": r.i64("at"), "time": util::format_time(r.i64("at")), "actor": r.str("actor"),
                "action": r.str("action"), "fleet": r.opt_str("fleet"), "driver": r.opt_str("driver"),
                "kid": r.opt_str("kid"), "detail": r.str("detail"),
            })
        })
        .collect())
}
