//! Load benchmark of the fleet service on loopback (issue 9; not a timed test): many simulated devices, each with
//! its own registered Ed25519 key, check in as fast as the service lets them: `POST /v1/challenges`, sign,
//! `POST /v1/checkins`. Reports sustained verified check-ins per second (answered 200 with verdict `accepted`) and
//! the latency of the check-in request and of the whole challenge + check-in round trip, after a warm-up.
//! Bounded in time and in count. The service runs as real `facecheck-fleet serve` processes (one or more replicas)
//! on the same machine as this load generator, which shares the cores with it.
//!
//! ```text
//! cargo build --release -p facecheck-fleet --bins --examples
//! target/release/examples/load --db sqlite [--devices 400] [--concurrency 64] [--seconds 20] [--warmup 3]
//! eval "$(scripts/postgres.sh start)"
//! target/release/examples/load --db postgres [--replicas 2] ...
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use facecheck_attest::{Claims, CodeBinding, Consent, DeviceKey, ManifestDigest, Outcome, RegistrationClaims};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

struct Args {
    db: String,
    devices: usize,
    concurrency: usize,
    seconds: u64,
    warmup: u64,
    replicas: usize,
    max_checkins: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        db: "sqlite".into(),
        devices: 400,
        concurrency: 64,
        seconds: 20,
        warmup: 3,
        replicas: 1,
        max_checkins: 2_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value(),
            "--devices" => args.devices = value().parse().expect("--devices N"),
            "--concurrency" => args.concurrency = value().parse().expect("--concurrency N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds N"),
            "--warmup" => args.warmup = value().parse().expect("--warmup N"),
            "--replicas" => args.replicas = value().parse().expect("--replicas N"),
            "--max-checkins" => args.max_checkins = value().parse().expect("--max-checkins N"),
            "--bench" => {} // passed by `cargo bench`-style runners; ignored
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(args.seconds <= 600 && args.devices <= 100_000, "bounded runs only");
    args.concurrency = args.concurrency.clamp(1, args.devices.max(1));
    args
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `<target>/<profile>/facecheck-fleet`, beside `<target>/<profile>/examples/load`.
fn service_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("facecheck-fleet");
    assert!(bin.exists(), "{} missing: cargo build --release -p facecheck-fleet --bins", bin.display());
    bin
}

fn cli(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).env("RUST_LOG", "warn").stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "facecheck-fleet {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn find_code(text: &str) -> String {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .find(|w| w.len() == 14 && w.split('-').count() == 3)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_replica(bin: &Path, db: &str) -> Replica {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(bin)
            .args(["serve", "--db", db, "--listen", &listen])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut replica = Replica { child, base: format!("http://{listen}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if replica.child.try_wait().unwrap().is_some() {
                break;
            }
            if std::net::TcpStream::connect(&listen).is_ok() {
                return replica;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(replica);
    }
    panic!("facecheck-fleet serve did not start");
}

struct Sim {
    key: DeviceKey,
    kid: String,
    driver: String,
    counter: u64,
}

fn manifest() -> ManifestDigest {
    ManifestDigest::of_manifest(b"facecheck-fleet load benchmark: simulated device model manifest")
}

#[derive(Default)]
struct Stats {
    checkin_us: Vec<u32>,
    round_trip_us: Vec<u32>,
    accepted: usize,
    other_verdicts: usize,
    errors: usize,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let args = parse_args();
    let bin = service_binary();
    let dir = tempfile::tempdir().unwrap();
    let (db_url, label) = match args.db.as_str() {
        "sqlite" => (format!("sqlite:{}", dir.path().join("load.db").display()), "SQLite (WAL)".to_owned()),
        "postgres" => {
            let base = std::env::var("FACECHECK_TEST_POSTGRES_URL")
                .expect("FACECHECK_TEST_POSTGRES_URL (eval \"$(scripts/postgres.sh start)\")");
            let name = format!("fc_load_{}_{}", std::process::id(), now_unix());
            let out = Command::new("psql").args([&base, "-qc", &format!("CREATE DATABASE {name}")]).output().unwrap();
            assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
            let (head, _) = base.rsplit_once('/').unwrap();
            (format!("{head}/{name}"), "PostgreSQL 15".to_owned())
        }
        other => panic!("--db sqlite|postgres, not {other}"),
    };
    cli(&bin, &["migrate", "--db", &db_url]);
    let replicas: Vec<Replica> = (0..args.replicas.max(1)).map(|_| start_replica(&bin, &db_url)).collect();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency + 8)
        .build()
        .unwrap();
    let fleet = "fleet-load";

    // Register the devices: an enrollment code each (admin CLI), then the statement over HTTP.
    let t_setup = Instant::now();
    let codes: Vec<String> = {
        let chunks: Vec<Vec<usize>> =
            (0..args.devices).collect::<Vec<_>>().chunks(args.devices.div_ceil(4).max(1)).map(|c| c.to_vec()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (bin, db_url) = (bin.clone(), db_url.clone());
                std::thread::spawn(move || {
                    chunk
                        .into_iter()
                        .map(|i| {
                            let driver = format!("driver-{i:05}");
                            let out = cli(
                                &bin,
                                &["admin", "enrollment-code", "--db", &db_url, "--fleet", fleet, "--driver", &driver],
                            );
                            find_code(&out)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    };
    let rng = SystemRandom::new();
    let mut sims = Vec::with_capacity(args.devices);
    rt.block_on(async {
        for (i, code) in codes.iter().enumerate() {
            let (_, pkcs8) = DeviceKey::generate(&rng).unwrap();
            let key = DeviceKey::from_pkcs8(&pkcs8).unwrap();
            let driver = format!("driver-{i:05}");
            let base = &replicas[i % replicas.len()].base;
            let info: Value =
                client.get(format!("{base}/v1/enrollment-codes/{code}")).send().await.unwrap().json().await.unwrap();
            let now = now_unix();
            let statement = key.sign_registration(&RegistrationClaims {
                driver: driver.clone(),
                fleet: fleet.into(),
                model_manifest: manifest(),
                issued_at: now,
                enrollment_code: Some(CodeBinding::of_code(code)),
                consent: Some(Consent {
                    notice: info["consent_notice"].as_str().unwrap_or("").into(),
                    accepted_at: now,
                }),
            });
            let resp = client.post(format!("{base}/v1/registrations")).json(&json!({ "statement": statement })).send();
            let resp = resp.await.unwrap();
            assert!(resp.status().is_success(), "registration: {} {}", resp.status(), resp.text().await.unwrap());
            let kid = key.key_id().as_str().to_owned();
            sims.push(Sim { key, kid, driver, counter: 0 });
        }
    });
    eprintln!("setup: {} devices registered in {:.1} s", args.devices, t_setup.elapsed().as_secs_f64());

    // The run: `concurrency` workers, each cycling through its share of the devices.
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let per_worker_cap = args.max_checkins.div_ceil(args.concurrency);
    let mut shares: Vec<Vec<Sim>> = (0..args.concurrency).map(|_| Vec::new()).collect();
    for (i, sim) in sims.into_iter().enumerate() {
        shares[i % args.concurrency].push(sim);
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let (measured_secs, stats) = rt.block_on(async {
        let mut tasks = Vec::new();
        for (w, mut share) in shares.into_iter().enumerate() {
            let (client, measuring, stop) = (client.clone(), measuring.clone(), stop.clone());
            let base = bases[w % bases.len()].clone();
            tasks.push(tokio::spawn(async move {
                let mut stats = Stats::default();
                let mut done = 0usize;
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) && done < per_worker_cap {
                    let n = share.len();
                    let sim = &mut share[i % n];
                    i += 1;
                    let t0 = Instant::now();
                    let block = "block-load";
                    let challenge = client
                        .post(format!("{base}/v1/challenges"))
                        .json(&json!({ "kid": sim.kid, "block": block }))
                        .send()
                        .await;
                    let nonce = match challenge {
                        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                            Ok(v) => v["nonce"].as_str().unwrap_or_default().to_owned(),
                            Err(_) => String::new(),
                        },
                        _ => String::new(),
                    };
                    if nonce.is_empty() {
                        if measuring.load(Ordering::Relaxed) {
                            stats.errors += 1;
                        }
                        continue;
                    }
                    sim.counter += 1;
                    let token = sim.key.sign(&Claims {
                        driver: sim.driver.clone(),
                        fleet: fleet.into(),
                        block: block.into(),
                        nonce,
                        issued_at: now_unix(),
                        counter: sim.counter,
                        outcome: Outcome::Match,
                        liveness_passed: true,
                        liveness_method: facecheck_attest::LivenessMethod::Passive,
                        attempts: 1,
                        model_manifest: manifest(),
                        policy: "fmr-1e-4".into(),
                        version: "0.1.0".into(),
                    });
                    let t1 = Instant::now();
                    let answer =
                        client.post(format!("{base}/v1/checkins")).json(&json!({ "token": token })).send().await;
                    let verdict = match answer {
                        Ok(r) if r.status().is_success() => {
                            r.json::<Value>().await.ok().and_then(|v| v["verdict"].as_str().map(str::to_owned))
                        }
                        _ => None,
                    };
                    let t2 = Instant::now();
                    if measuring.load(Ordering::Relaxed) {
                        done += 1;
                        match verdict.as_deref() {
                            Some("accepted") => {
                                stats.accepted += 1;
                                stats.checkin_us.push((t2 - t1).as_micros() as u32);
                                stats.round_trip_us.push((t2 - t0).as_micros() as u32);
                            }
                            Some(_) => stats.other_verdicts += 1,
                            None => stats.errors += 1,
                        }
                    }
                }
                stats
            }));
        }
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
        measuring.store(true, Ordering::Relaxed);
        let t = Instant::now();
        let run = Duration::from_secs(args.seconds);
        while t.elapsed() < run && !tasks.iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let measured = t.elapsed().as_secs_f64();
        let mut all = Stats::default();
        for task in tasks {
            let s = task.await.unwrap();
            all.checkin_us.extend(s.checkin_us);
            all.round_trip_us.extend(s.round_trip_us);
            all.accepted += s.accepted;
            all.other_verdicts += s.other_verdicts;
            all.errors += s.errors;
        }
        (measured, all)
    });
    let mut stats = stats;
    stats.checkin_us.sort_unstable();
    stats.round_trip_us.sort_unstable();
    let rate = stats.accepted as f64 / measured_secs;
    println!(
        "| {label} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
        args.replicas.max(1),
        args.devices,
        args.concurrency,
        rate,
        percentile(&stats.checkin_us, 0.50),
        percentile(&stats.checkin_us, 0.99),
        percentile(&stats.round_trip_us, 0.50),
        percentile(&stats.round_trip_us, 0.99),
        stats.other_verdicts,
        stats.errors,
    );
    eprintln!(
        "{label}: {} accepted in {measured_secs:.1} s = {rate:.0} verified check-ins/s; check-in p50 {:.1} ms p99 {:.1} ms \
         max {:.1} ms; challenge+check-in p50 {:.1} ms p99 {:.1} ms; {} other verdicts, {} errors",
        stats.accepted,
        percentile(&stats.checkin_us, 0.50),
        percentile(&stats.checkin_us, 0.99),
        percentile(&stats.checkin_us, 1.0),
        percentile(&stats.round_trip_us, 0.50),
        percentile(&stats.round_trip_us, 0.99),
        stats.other_verdicts,
        stats.errors
    );
    drop(replicas);
}
