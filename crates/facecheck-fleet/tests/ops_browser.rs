//! The admin page in a real browser (issue 9): headless Debian Chromium driven over WebDriver by Debian's
//! chromedriver (/usr/bin/chromedriver; nothing is downloaded). The test starts the service on loopback, logs in with
//! a token from `admin create-token`, creates an enrollment code (text and QR), registers a device with that very code
//! and checks in over HTTP with real signed tokens, sees the check-ins arrive on the page, and resolves the review.
//! Screenshots go to `<target>/fleet-browser/` as CI artefacts.
//!
//! Skipped without /usr/bin/chromedriver, except under `CI`, where a missing browser is a failure
//! (`scripts/install-chromium.sh` installs it).

mod ops;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use facecheck_attest::Outcome;
use fantoccini::{Client, ClientBuilder, Locator};
use ops::{Db, Device, Server};
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    // The binary is <target>/<profile>/facecheck-fleet.
    let target = Path::new(ops::BIN).parent().and_then(Path::parent).expect("target directory");
    let dir = target.join("fleet-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

async fn start_browser(profile: &Path) -> (Driver, Client) {
    let port = ops::free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("could not start a WebDriver session: {e}"),
        }
    }
}

async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css} did not appear: {e}"))
}

async fn fill_and_submit(browser: &Client, form_css: &str, fields: &[(&str, &str)]) {
    let form = wait_for(browser, form_css).await;
    for (name, value) in fields {
        let input = form.find(Locator::Css(&format!("[name=\"{name}\"]"))).await.unwrap_or_else(|e| {
            panic!("{form_css} has no field {name}: {e}");
        });
        input.clear().await.ok();
        input.send_keys(value).await.unwrap();
    }
    let csrf = form.find(Locator::Css("input[name=\"csrf\"]")).await;
    if !form_css.contains("login") {
        let csrf = csrf.unwrap_or_else(|e| panic!("{form_css} carries no hidden csrf field: {e}"));
        assert!(!csrf.attr("value").await.unwrap().unwrap_or_default().is_empty(), "{form_css}: empty csrf");
    }
    let submit = form.find(Locator::Css("[type=\"submit\"]")).await.expect("a submit button");
    submit.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_page_in_headless_chromium() {
    if !Path::new(CHROMEDRIVER).exists() {
        assert!(std::env::var_os("CI").is_none(), "CI without {CHROMEDRIVER}: run scripts/install-chromium.sh");
        eprintln!("skipped: {CHROMEDRIVER} missing (scripts/install-chromium.sh)");
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let token = db.admin_token();
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    let result = run(&browser, &server, &db, &token).await;
    if result.is_err() {
        shot(&browser, "failure.png").await;
    }
    browser.close().await.ok();
    result.unwrap();
}

async fn run(browser: &Client, server: &Server, db: &Db, token: &str) -> Result<(), String> {
    let http = ops::client();
    let fleet = "fleet-browser";
    let driver = "driver-ana";

    // Any admin page without a session lands on the login form.
    browser.goto(&server.url(ops::ADMIN_HOME)).await.unwrap();
    wait_for(browser, "#login").await;
    shot(browser, "01-login.png").await;
    fill_and_submit(browser, "#login", &[("token", token)]).await;

    // Logged in: the page has its sections.
    wait_for(browser, "#new-code").await;
    for section in ["#checkins", "#reviews", "#devices"] {
        wait_for(browser, section).await;
    }
    let cookies = browser.get_all_cookies().await.unwrap();
    assert!(!cookies.is_empty(), "a session cookie was set");
    for c in &cookies {
        assert_eq!(c.http_only(), Some(true), "session cookie {} is HttpOnly", c.name());
        assert_eq!(format!("{:?}", c.same_site()), "Some(Strict)", "session cookie {} is SameSite=Strict", c.name());
    }
    shot(browser, "02-dashboard.png").await;

    // An enrollment code for the driver: as text and as a QR code.
    fill_and_submit(browser, "#new-code", &[("driver", driver), ("fleet", fleet)]).await;
    let code_el = wait_for(browser, "#code-text").await;
    let code_text = code_el.text().await.unwrap();
    let code = ops::find_code(&code_text).ok_or(format!("#code-text shows no XXXX-XXXX-XXXX code: {code_text:?}"))?;
    let qr = wait_for(browser, "img#code-qr").await;
    assert!(qr.is_displayed().await.unwrap(), "the QR code is visible");
    let qr_width = browser
        .execute("return document.getElementById('code-qr').naturalWidth", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0);
    assert!(qr_width > 0, "the QR image decodes (naturalWidth {qr_width})");
    let src = qr.attr("src").await.unwrap().unwrap_or_default();
    assert!(src.starts_with("data:image/"), "QR as a data URL, nothing fetched: {}", &src[..src.len().min(40)]);
    shot(browser, "03-enrollment-code.png").await;

    // The phone registers with the code from the page and checks in twice: a match and a no-match (review).
    let mut device = Device::new(fleet, driver);
    device.register_with_code(&http, server, &code).await;
    let (status, body, _) = device.check_in(&http, server, "block-am", Outcome::Match).await;
    assert_eq!((status, body["verdict"].as_str()), (200, Some("accepted")), "{body}");
    let (status, body, _) = device.check_in(&http, server, "block-pm", Outcome::NoMatch).await;
    assert_eq!((status, body["verdict"].as_str()), (200, Some("review")), "{body}");

    // The check-ins show up on the page.
    browser.goto(&server.url(ops::ADMIN_HOME)).await.unwrap();
    wait_for(browser, "#checkins").await;
    let rows =
        browser.find_all(Locator::Css(&format!("#checkins tr.checkin[data-driver=\"{driver}\"]"))).await.unwrap();
    let mut seen = Vec::new();
    for row in &rows {
        seen.push((
            row.attr("data-outcome").await.unwrap().unwrap_or_default(),
            row.attr("data-verdict").await.unwrap().unwrap_or_default(),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![("match".into(), "accepted".into()), ("no_match".into(), "review".into())],
        "the two check-ins are listed with outcome and verdict"
    );
    let devices = wait_for(browser, "#devices").await.text().await.unwrap();
    assert!(devices.contains(driver), "the device is listed under its driver: {devices:?}");
    assert!(browser.find(Locator::Css("#devices form.revoke")).await.is_ok(), "the active key can be revoked");
    shot(browser, "04-checkins.png").await;

    // The review queue holds the no-match; resolve it with a note.
    let open_before = browser.find_all(Locator::Css("#reviews form.resolve")).await.unwrap().len();
    assert!(open_before >= 1, "the no-match is in the review queue");
    fill_and_submit(browser, "#reviews form.resolve", &[("note", "Checked the photo ID in person; it is Ana.")]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = browser.find_all(Locator::Css("#reviews form.resolve")).await.map(|v| v.len()).unwrap_or(usize::MAX);
        if open < open_before {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the review stayed open ({open} open forms)"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(browser, "05-review-resolved.png").await;

    // A phone-sized window: the same page, readable (no horizontal scrolling of the whole page).
    browser.set_window_size(390, 844).await.unwrap();
    browser.goto(&server.url(ops::ADMIN_HOME)).await.unwrap();
    wait_for(browser, "#checkins").await;
    let overflow: Value = browser
        .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![])
        .await
        .unwrap();
    shot(browser, "06-phone.png").await;
    assert!(overflow.as_i64().unwrap_or(0) <= 4, "the page scrolls sideways on a phone by {overflow}px");

    // The record agrees with the page.
    let recorded = db.checkins(Some(driver));
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    Ok(())
}
