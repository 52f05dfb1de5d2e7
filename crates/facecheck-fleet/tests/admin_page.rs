//! The admin page and admin API: sessions, CSRF, the element ids the browser test relies on.

mod support;

use facecheck_attest::Outcome;
use facecheck_fleet::testing::TestServer;
use support::{check_in, enrolled, Api};

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = pair.split_once('=')?;
        (k == name).then(|| (val.to_owned(), v.to_owned()))
    })
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn login(api: &Api, token: &str) -> (String, String) {
    let page = api.http.get(format!("{}/admin/login", api.base)).send().await.unwrap();
    let (login_csrf, _) = cookie_value(&page, "fc_login_csrf").expect("login csrf cookie");
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"login\""));
    assert_eq!(hidden(&html, "csrf"), login_csrf);
    let resp = api
        .http
        .post(format!("{}/admin/login", api.base))
        .header("cookie", format!("fc_login_csrf={login_csrf}"))
        .form(&[("token", token), ("csrf", &login_csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (sid, attrs) = cookie_value(&resp, "fc_session").expect("session cookie");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"), "{attrs}");
    let html =
        api.http.get(format!("{}/admin", api.base)).header("cookie", format!("fc_session={sid}")).send().await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    (sid, hidden(&html, "csrf"))
}

/// The dashboard's HTML, for the session in `cookie`.
async fn dashboard(api: &Api, cookie: &str) -> String {
    let page = api.http.get(format!("{}/admin", api.base)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

async fn page_flow(api: Api, server: &TestServer) {
    let token = server.admin_token().await.unwrap();

    // No session: pages redirect to the login form, the admin API answers 401.
    for path in ["/admin", "/admin/codes"] {
        let r = api.http.get(format!("{}{path}", api.base)).send().await.unwrap();
        assert!(r.status() == 303 || r.status() == 405, "{path}: {}", r.status());
    }
    let r = api
        .http
        .post(format!("{}/admin/codes", api.base))
        .form(&[("fleet", "f"), ("driver", "d"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/login");
    let r = api.http.get(format!("{}/v1/admin/checkins", api.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = api.http.get(format!("{}/v1/admin/checkins", api.base)).bearer_auth("fca_wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = api.http.get(format!("{}/admin", api.base)).header("cookie", "fc_session=forged").send().await.unwrap();
    assert_eq!(r.status(), 303);

    // A wrong token, or a login without its CSRF cookie, is refused.
    let page = api.http.get(format!("{}/admin/login", api.base)).send().await.unwrap();
    let (login_csrf, _) = cookie_value(&page, "fc_login_csrf").unwrap();
    let r = api
        .http
        .post(format!("{}/admin/login", api.base))
        .header("cookie", format!("fc_login_csrf={login_csrf}"))
        .form(&[("token", "fca_nope"), ("csrf", &login_csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(cookie_value(&r, "fc_session").is_none());
    let r = api
        .http
        .post(format!("{}/admin/login", api.base))
        .form(&[("token", token.as_str()), ("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let (sid, csrf) = login(&api, &token).await;
    let cookie = format!("fc_session={sid}");

    // Creating a code: without the CSRF token refused, with it the code and its QR code are shown.
    let r = api
        .http
        .post(format!("{}/admin/codes", api.base))
        .header("cookie", &cookie)
        .form(&[("fleet", "fleet-p"), ("driver", "driver-p"), ("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = api
        .http
        .post(format!("{}/admin/codes", api.base))
        .header("cookie", &cookie)
        .form(&[("fleet", "fleet-p"), ("driver", "driver-p"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<img id=\"code-qr\" src=\"data:image"), "QR image");
    let start = html.find("id=\"code-text\" class=\"code\">").unwrap() + "id=\"code-text\" class=\"code\">".len();
    let code = &html[start..start + 14];
    assert!(facecheck_fleet::codes::is_well_formed(code), "{code}");
    let (status, body) = api.get(&format!("/v1/enrollment-codes/{code}")).await;
    assert_eq!((status, body["driver"].as_str()), (200, Some("driver-p")));
    let r = api
        .http
        .post(format!("{}/admin/codes", api.base))
        .header("cookie", &cookie)
        .form(&[("fleet", "fleet-p"), ("driver", "bad id <script>"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(!r.text().await.unwrap().contains("<script>"));

    // A check-in arrives and shows; its review is resolved from the page.
    let mut d = enrolled(&api, server, "fleet-p", "driver-q").await;
    check_in(&api, &mut d, "am", Outcome::NoMatch).await;
    let html = dashboard(&api, &cookie).await;
    assert!(html.contains("id=\"checkins\""));
    assert!(
        html.contains("class=\"checkin\" data-driver=\"driver-q\" data-outcome=\"no_match\" data-verdict=\"review\"")
    );
    assert!(html.contains("id=\"reviews\"") && html.contains("class=\"resolve\""));
    assert!(html.contains("id=\"devices\"") && html.contains("class=\"revoke\""));
    let marker = "action=\"/admin/reviews/";
    let start = html.find(marker).unwrap() + marker.len();
    let review_id = &html[start..start + html[start..].find('/').unwrap()];
    let r = api
        .http
        .post(format!("{}/admin/reviews/{review_id}/resolve", api.base))
        .header("cookie", &cookie)
        .form(&[("note", "checked the photo"), ("resolution", "cleared"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = dashboard(&api, &cookie).await;
    assert!(!html.contains(&format!("/admin/reviews/{review_id}/resolve")), "resolved review left the queue");

    // Revoke from the page.
    let r = api
        .http
        .post(format!("{}/admin/keys/{}/revoke", api.base, d.kid()))
        .header("cookie", &cookie)
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = dashboard(&api, &cookie).await;
    assert!(html.contains(&format!("data-kid=\"{}\" data-status=\"revoked\"", d.kid())));

    // Log out: the session is gone.
    let r = api
        .http
        .post(format!("{}/admin/logout", api.base))
        .header("cookie", &cookie)
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = api.http.get(format!("{}/admin", api.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_login_csrf_codes_reviews_revocation() {
    each_backend!(page_flow);
}

/// The dashboard counts today's check-ins per block and the open reviews in full, past what it lists (500 check-ins,
/// 200 reviews): a busy day is not shown short.
async fn busy_day_counts(api: Api, server: &TestServer) {
    let token = server.admin_token().await.unwrap();
    let (sid, _) = login(&api, &token).await;
    let db = &server.service().db;
    // Rows stamped now must still be today's (UTC) when the page is read: not in the last minute of a day.
    let to_midnight = 86_400 - support::now() % 86_400;
    if to_midnight < 60 {
        tokio::time::sleep(std::time::Duration::from_secs(to_midnight + 1)).await;
    }
    let now = support::now() as i64;
    let (checkins, reviews) = (620, 230);
    let mut tx = db.begin().await.unwrap();
    for n in 0..checkins {
        let verdict = ["accepted", "accepted", "review", "refused"][n % 4];
        tx.exec(
            "INSERT INTO checkins (id, statement_hash, nonce, kid, fleet, driver, block, counter, counter_gap, outcome, \
             attempts, liveness, liveness_method, verdict, reason, issued_at, received_at, evidence) \
             VALUES ($1, $1, $1, 'kid-busy', 'fleet-busy', 'driver-busy', 'block-busy', $2, 0, 'match', 1, 1, \
             'passive', $3, '', $4, $4, '')",
            facecheck_fleet::args![format!("busy-{n}"), n as i64 + 1, verdict, now],
        )
        .await
        .unwrap();
    }
    for n in 0..reviews {
        tx.exec(
            "INSERT INTO reviews (id, fleet, driver, kid, kind, detail, created_at, status) \
             VALUES ($1, 'fleet-busy', 'driver-busy', 'kid-busy', 'no_match', '', $2, 'open')",
            facecheck_fleet::args![format!("review-{n}"), now],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let html = dashboard(&api, &format!("fc_session={sid}")).await;
    assert!(
        html.contains("Block <b>block-busy</b>: 620 check-ins, 310 accepted, 155 to review, 155 refused"),
        "{html}"
    );
    assert!(html.contains("the newest 500 listed"));
    assert_eq!(html.matches("class=\"checkin\"").count(), 500);
    assert!(html.contains("Review queue (230 open, the oldest 200 shown)"));
    assert_eq!(html.matches("class=\"review-item\"").count(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_a_busy_day_in_full() {
    each_backend!(busy_day_counts);
}
