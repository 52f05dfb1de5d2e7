//! The HTTP side: the device API under `/v1`, the admin API under `/v1/admin` (bearer admin token), the admin page
//! under `/admin` (session cookie + CSRF), and the error and limit layers around them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Environment};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{self, Session, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::codes;
use crate::error::{ApiError, Form, Json, Path, Query};
use crate::service::{PolicyChange, Service};
use crate::util;
use crate::views;

/// The request body limit: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The dashboard lists today's newest check-ins and the oldest open reviews up to these numbers; its per-block
/// counts and the number of open reviews count them all.
const CHECKINS_SHOWN: i64 = 500;
const REVIEWS_SHOWN: i64 = 200;

/// How long one request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
struct AppState {
    service: Service,
    templates: Arc<Environment<'static>>,
}

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in [
        ("layout.html", include_str!("../templates/layout.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("dashboard.html", include_str!("../templates/dashboard.html")),
    ] {
        env.add_template(name, source).expect("the bundled templates parse");
    }
    env
}

/// The whole application router for `service`.
pub fn router(service: Service) -> Router {
    let state = AppState { service, templates: Arc::new(templates()) };
    let device_api = Router::new()
        .route("/v1/fleet-key", get(fleet_key))
        .route("/v1/enrollment-codes/{code}", get(lookup_code))
        .route("/v1/registrations", post(register))
        .route("/v1/challenges", post(challenge))
        .route("/v1/checkins", post(checkin))
        .route("/v1/checkins/{id}/reviews", get(checkin_reviews))
        .route("/v1/erasures", post(erase))
        .route("/v1/reviews", post(request_review))
        .route("/v1/reviews/{id}", get(review_status));
    let admin_api = Router::new()
        .route("/v1/admin/enrollment-codes", post(api_create_code))
        .route("/v1/admin/checkins", get(api_checkins))
        .route("/v1/admin/reviews", get(api_reviews))
        .route("/v1/admin/reviews/{id}/resolve", post(api_resolve))
        .route("/v1/admin/keys/{kid}/revoke", post(api_revoke))
        .route("/v1/admin/devices", get(api_devices))
        .route("/v1/admin/audit", get(api_audit))
        .route("/v1/admin/fleets/{fleet}/policy", get(api_get_policy).put(api_set_policy));
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .route("/admin", get(dashboard))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/codes", post(page_create_code))
        .route("/admin/keys/{kid}/revoke", post(page_revoke))
        .route("/admin/reviews/{id}/resolve", post(page_resolve));
    Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .merge(device_api)
        .merge(admin_api)
        .merge(pages)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(buffer_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(axum::middleware::map_response(security_headers))
}

/// How much of an oversized body is read (and dropped) before the 413 is sent, so that the client, still sending,
/// is not reset before it reads the answer. Beyond this the connection is simply closed.
pub const DRAIN_LIMIT: usize = 4 * 1024 * 1024;

/// Reads the whole body (at most [`BODY_LIMIT`] kept) before the handler runs: an oversized body gets a 413 after
/// it was read to its end, a broken one a 400.
async fn buffer_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use http_body_util::BodyExt as _;
    let too_large =
        || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is over the size limit");
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        let mut response = too_large().into_response();
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let (parts, mut body) = request.into_parts();
    let mut kept: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return ApiError::bad_request("bad_body", "the request body could not be read").into_response();
        };
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= BODY_LIMIT {
                kept.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                let mut response = too_large().into_response();
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        }
    }
    if total > BODY_LIMIT {
        return too_large().into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(kept))).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// Headers on every answer; and a JSON body for the errors the stack answers itself (413 from the body limit layer,
/// 408 from the timeout) that would otherwise be empty.
async fn security_headers(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.starts_with("text/plain")));
    let mut response = if status.is_client_error() && plain {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            _ => "bad_request",
        };
        ApiError::new(status, code, status.canonical_reason().unwrap_or("bad request")).into_response()
    } else {
        response
    };
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn answer((status, body): (StatusCode, Value)) -> Response {
    (status, axum::Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------------------------
// Device API

async fn fleet_key(State(s): State<AppState>) -> Response {
    axum::Json(s.service.fleet_key_json()).into_response()
}

async fn lookup_code(State(s): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    Ok(answer(s.service.lookup_code(&code).await?))
}

#[derive(Deserialize)]
struct RegistrationBody {
    statement: String,
}

async fn register(State(s): State<AppState>, Json(body): Json<RegistrationBody>) -> Result<Response, ApiError> {
    Ok(answer(s.service.register(&body.statement).await?))
}

#[derive(Deserialize)]
struct ChallengeBody {
    kid: String,
    block: String,
}

async fn challenge(State(s): State<AppState>, Json(body): Json<ChallengeBody>) -> Result<Response, ApiError> {
    Ok(answer(s.service.challenge(&body.kid, &body.block).await?))
}

#[derive(Deserialize)]
struct CheckinBody {
    token: String,
}

async fn checkin(State(s): State<AppState>, Json(body): Json<CheckinBody>) -> Result<Response, ApiError> {
    Ok(answer(s.service.checkin(&body.token).await?))
}

#[derive(Deserialize)]
struct ErasureBody {
    receipt: String,
}

async fn erase(State(s): State<AppState>, Json(body): Json<ErasureBody>) -> Result<Response, ApiError> {
    Ok(answer(s.service.erase(&body.receipt).await?))
}

#[derive(Deserialize)]
struct ReviewBody {
    request: String,
}

async fn request_review(State(s): State<AppState>, Json(body): Json<ReviewBody>) -> Result<Response, ApiError> {
    Ok(answer(s.service.request_review(&body.request).await?))
}

async fn review_status(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(answer(s.service.review_status(&id).await?))
}

async fn checkin_reviews(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(answer(s.service.checkin_reviews(&id).await?))
}

// ---------------------------------------------------------------------------------------------------------------
// Admin API: `Authorization: Bearer <admin token>`

/// An admin authenticated by bearer token (401 otherwise).
struct AdminApi {
    actor: String,
}

impl FromRequestParts<AppState> for AdminApi {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AdminApi, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        match auth::check_token(&state.service.db, token).await? {
            Some(id) => Ok(AdminApi { actor: format!("admin:{id}") }),
            None => Err(ApiError::unauthorized()),
        }
    }
}

#[derive(Deserialize)]
struct CodeBody {
    fleet: String,
    driver: String,
    ttl_secs: Option<i64>,
}

async fn api_create_code(
    State(s): State<AppState>,
    admin: AdminApi,
    Json(body): Json<CodeBody>,
) -> Result<Response, ApiError> {
    let (code, expires_at, payload) =
        s.service.create_code(&admin.actor, &body.fleet, &body.driver, body.ttl_secs).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"code": code, "expires_at": expires_at, "qr_payload": payload})))
        .into_response())
}

#[derive(Deserialize)]
struct CheckinQuery {
    driver: Option<String>,
    since: Option<i64>,
    limit: Option<i64>,
}

async fn api_checkins(
    State(s): State<AppState>,
    _admin: AdminApi,
    Query(q): Query<CheckinQuery>,
) -> Result<Response, ApiError> {
    let rows = views::checkins(&s.service.db, q.driver.as_deref(), q.since, q.limit.unwrap_or(1000)).await?;
    Ok(axum::Json(rows).into_response())
}

#[derive(Deserialize)]
struct ReviewQuery {
    status: Option<String>,
}

async fn api_reviews(
    State(s): State<AppState>,
    _admin: AdminApi,
    Query(q): Query<ReviewQuery>,
) -> Result<Response, ApiError> {
    let open = q.status.as_deref() != Some("all");
    Ok(axum::Json(views::reviews(&s.service.db, open, 1000).await?).into_response())
}

#[derive(Deserialize)]
struct ResolveBody {
    resolution: String,
    note: String,
}

async fn api_resolve(
    State(s): State<AppState>,
    admin: AdminApi,
    Path(id): Path<String>,
    Json(body): Json<ResolveBody>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(s.service.resolve_review(&admin.actor, &id, &body.resolution, &body.note).await?).into_response())
}

async fn api_revoke(State(s): State<AppState>, admin: AdminApi, Path(kid): Path<String>) -> Result<Response, ApiError> {
    Ok(axum::Json(s.service.revoke_key(&admin.actor, &kid).await?).into_response())
}

async fn api_devices(State(s): State<AppState>, _admin: AdminApi) -> Result<Response, ApiError> {
    Ok(axum::Json(views::devices(&s.service.db).await?).into_response())
}

async fn api_audit(State(s): State<AppState>, _admin: AdminApi) -> Result<Response, ApiError> {
    Ok(axum::Json(views::audit_log(&s.service.db, 1000).await?).into_response())
}

async fn api_get_policy(
    State(s): State<AppState>,
    _admin: AdminApi,
    Path(fleet): Path<String>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(s.service.policy(&fleet).await?).into_response())
}

async fn api_set_policy(
    State(s): State<AppState>,
    admin: AdminApi,
    Path(fleet): Path<String>,
    Json(change): Json<PolicyChange>,
) -> Result<Response, ApiError> {
    let policy = s.service.set_policy(&admin.actor, &fleet, &change).await?;
    Ok(axum::Json(policy).into_response())
}

// ---------------------------------------------------------------------------------------------------------------
// Admin page: session cookie + CSRF

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.service.config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .expect("cookie values are base64url")
}

/// A page request with an open session; without one the page redirects to the login form.
struct PageSession {
    sid: String,
    session: Session,
}

/// The answer to a page request without a session: 303 to the login form.
struct ToLogin;

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to("/admin/login").into_response()
    }
}

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<PageSession, Response> {
        let sid = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(|| ToLogin.into_response())?;
        match auth::session(&state.service.db, &sid).await {
            Ok(Some(session)) => Ok(PageSession { sid, session }),
            Ok(None) => Err(ToLogin.into_response()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

impl PageSession {
    fn check_csrf(&self, csrf: &str) -> Result<(), ApiError> {
        if util::constant_time_eq(csrf.as_bytes(), self.session.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::forbidden("csrf", "the form's CSRF token is missing or wrong; reload the page"))
        }
    }
}

fn render(state: &AppState, name: &str, ctx: minijinja::Value) -> Result<Response, ApiError> {
    let template = state.templates.get_template(name).map_err(|_| ApiError::internal())?;
    let html = template.render(ctx).map_err(|e| {
        tracing::error!(error = %e, template = name, "template failed");
        ApiError::internal()
    })?;
    Ok(Html(html).into_response())
}

async fn login_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    login_form(&state, None, StatusCode::OK)
}

fn login_form(state: &AppState, error: Option<&str>, status: StatusCode) -> Result<Response, ApiError> {
    let login_csrf = util::random_secret();
    let mut response = render(state, "login.html", context! { login_csrf, error, csrf => "" })?;
    *response.status_mut() = status;
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, LOGIN_CSRF_COOKIE, &login_csrf, 3600));
    Ok(response)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !util::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return login_form(&state, Some("The form expired; try again."), StatusCode::FORBIDDEN);
    }
    let Some(token_id) = auth::check_token(&state.service.db, &form.token).await? else {
        tracing::info!("admin login refused");
        return login_form(&state, Some("That token is not valid."), StatusCode::UNAUTHORIZED);
    };
    let (sid, _) = auth::open_session(&state.service.db, &token_id).await?;
    let mut response = Redirect::to("/admin").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &sid, auth::SESSION_SECS));
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0));
    Ok(response)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    page: PageSession,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    page.check_csrf(&form.csrf)?;
    auth::close_session(&state.service.db, &page.sid).await?;
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    Ok(response)
}

#[derive(serde::Serialize)]
struct CreatedCode {
    fleet: String,
    driver: String,
    code: String,
    expires: String,
    qr: String,
    payload: String,
}

async fn dashboard_page(
    state: &AppState,
    page: &PageSession,
    created: Option<CreatedCode>,
    notice: Option<String>,
) -> Result<Response, ApiError> {
    let db = &state.service.db;
    let now = util::now();
    let today = util::start_of_day(now);
    let mut checkins = views::checkins(db, None, Some(today), CHECKINS_SHOWN).await?;
    for c in &mut checkins {
        c["time"] = util::format_time(c["received_at"].as_i64().unwrap_or(0))[11..].into();
    }
    let blocks = views::blocks(db, today).await?;
    let reviews = views::reviews(db, true, REVIEWS_SHOWN).await?;
    let open_reviews = views::open_reviews(db).await?;
    let devices = views::devices(db).await?;
    let audit = views::audit_log(db, 50).await?;
    let default_fleet = devices.first().and_then(|d| d["fleet"].as_str()).unwrap_or("").to_owned();
    render(
        state,
        "dashboard.html",
        context! {
            csrf => page.session.csrf.clone(), created, notice, checkins, blocks, reviews, open_reviews, devices, audit,
            default_fleet, today => util::format_time(today)[..10].to_owned(), checkins_shown => CHECKINS_SHOWN,
        },
    )
}

async fn dashboard(State(state): State<AppState>, page: PageSession) -> Result<Response, ApiError> {
    dashboard_page(&state, &page, None, None).await
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    fleet: String,
    driver: String,
}

async fn page_create_code(
    State(state): State<AppState>,
    page: PageSession,
    Form(form): Form<CodeForm>,
) -> Result<Response, ApiError> {
    page.check_csrf(&form.csrf)?;
    let (fleet, driver) = (form.fleet.trim(), form.driver.trim());
    match state.service.create_code(&page.session.actor(), fleet, driver, None).await {
        Ok((code, expires_at, payload)) => {
            let created = CreatedCode {
                fleet: fleet.to_owned(),
                driver: driver.to_owned(),
                code,
                expires: util::format_time(expires_at),
                qr: codes::qr_data_url(&payload),
                payload,
            };
            dashboard_page(&state, &page, Some(created), None).await
        }
        Err(e) if e.status.is_client_error() => {
            let mut response = dashboard_page(&state, &page, None, Some(e.message)).await?;
            *response.status_mut() = e.status;
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

async fn page_revoke(
    State(state): State<AppState>,
    page: PageSession,
    Path(kid): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    page.check_csrf(&form.csrf)?;
    state.service.revoke_key(&page.session.actor(), &kid).await?;
    Ok(Redirect::to("/admin").into_response())
}

#[derive(Deserialize)]
struct ResolveForm {
    csrf: String,
    note: String,
    resolution: Option<String>,
}

async fn page_resolve(
    State(state): State<AppState>,
    page: PageSession,
    Path(id): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Result<Response, ApiError> {
    page.check_csrf(&form.csrf)?;
    let resolution = form.resolution.as_deref().unwrap_or("cleared");
    match state.service.resolve_review(&page.session.actor(), &id, resolution, &form.note).await {
        Ok(_) => Ok(Redirect::to("/admin").into_response()),
        Err(e) if e.status.is_client_error() => {
            let mut response = dashboard_page(&state, &page, None, Some(e.message)).await?;
            *response.status_mut() = e.status;
            Ok(response)
        }
        Err(e) => Err(e),
    }
}
