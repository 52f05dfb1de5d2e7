//! The command-line forms other checks rely on.

use std::process::Command;

fn fleet(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_facecheck-fleet")).args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn admin_commands_on_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("f.db").display());
    let (ok, _, err) = fleet(&["migrate", "--db", &db]);
    assert!(ok, "{err}");
    let (ok, token, err) = fleet(&["admin", "create-token", "--db", &db]);
    assert!(ok, "{err}");
    assert!(token.trim().starts_with("fca_") && token.trim().len() > 40);
    assert!(!err.contains(token.trim()), "the token is not logged");
    // The code alone on standard output (as `CODE=$(facecheck-fleet admin enrollment-code ...)` takes it).
    let (ok, out, err) = fleet(&["admin", "enrollment-code", "--db", &db, "--fleet", "F", "--driver", "D"]);
    assert!(ok, "{err}");
    let code = out.strip_suffix('\n').unwrap();
    assert!(facecheck_fleet::codes::is_well_formed(code), "{out:?}");
    assert!(!err.contains(code), "the code is not logged");
    let args = ["admin", "enrollment-code", "--db", &db, "--fleet", "F", "--driver", "D", "--qr-payload"];
    let (ok, out, err) = fleet(&args);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    let code = lines.next().unwrap();
    assert!(facecheck_fleet::codes::is_well_formed(code), "{code}");
    let payload = lines.next().unwrap();
    assert!(payload.starts_with("facecheck-enroll:1?server=") && payload.contains("&fleet=F&driver=D&code="));
    assert!(!err.contains(code), "the code is not logged");
    let (ok, out, err) = fleet(&["admin", "checkins", "--db", &db, "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), serde_json::json!([]));
    let (ok, out, _) = fleet(&["admin", "policy", "--db", &db, "--fleet", "F", "--failed-attempt-limit", "3"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["failed_attempt_limit"], 3);
    let (ok, _, _) = fleet(&["admin", "enrollment-code", "--db", &db, "--fleet", "F", "--driver", "bad id"]);
    assert!(!ok);
    let (ok, _, _) = fleet(&["serve", "--db", "mysql://x"]);
    assert!(!ok);
    // Key and review ids are base64url, and one in 64 begins with a dash: taken as the id, not as a flag.
    let (ok, _, err) = fleet(&["admin", "revoke", "--db", &db, "-zTzP_LFsZ9lrFS0gr00QZbHt_KOAAAahq7dtsApG5E"]);
    assert!(!ok && err.contains("key_unknown"), "{err}");
    let (ok, _, err) = fleet(&["admin", "resolve", "-Xf3", "--db", &db, "--note", "n"]);
    assert!(!ok && err.contains("review_unknown"), "{err}");
}

#[test]
fn serve_with_no_flags_creates_the_database_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_facecheck-fleet"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the port answers and the file is there (a port picked this way can be taken by another process first).
    let db = dir.path().join("facecheck-fleet.db");
    let (mut up, mut created) = (false, false);
    for _ in 0..100 {
        up = up || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        created = db.exists();
        if up && created {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up, "the service listened");
    assert!(created, "the database was created in the working directory");
}
