//! Crash (issue 9): `kill -9` of the service in the middle of a stream of check-ins loses no check-in that got a
//! 2xx. Devices stream check-ins at a running server; it is killed without warning; a new process on the same
//! database must hold every acknowledged check-in (read back with `admin checkins --json`) and must answer an
//! acknowledged token's resubmission with the same stored check-in.

mod ops;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use facecheck_attest::Outcome;
use ops::{post_json, Db, Device, Server};
use serde_json::{json, Value};

const DEVICES: usize = 8;
const KILLS: usize = 3;

/// What the client saw acknowledged: (driver, counter) -> (checkin_id, token).
type Acked = Arc<Mutex<HashMap<(String, u64), (Value, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_stream_loses_no_acknowledged_checkin() {
    for db in Db::all() {
        let client = ops::client();
        let fleet = ops::unique("fleet");
        let mut server = Server::start(&db);
        let mut devices = Vec::new();
        for i in 0..DEVICES {
            devices.push(Device::enroll(&client, &server, &db, &fleet, &format!("driver-{i}")).await);
        }
        let acked: Acked = Arc::default();
        let mut total_sent = 0usize;
        for kill in 0..KILLS {
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut tasks = Vec::new();
            let base = server.base.clone();
            for mut device in devices.drain(..) {
                let (client, acked, stop, base) = (client.clone(), acked.clone(), stop.clone(), base.clone());
                tasks.push(tokio::spawn(async move {
                    let mut sent = 0usize;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        // Errors are expected once the server is gone: connection refused/reset, no answer.
                        let Ok(resp) = client
                            .post(format!("{base}/v1/challenges"))
                            .json(&json!({ "kid": device.kid(), "block": "block-crash" }))
                            .send()
                            .await
                        else {
                            break;
                        };
                        let Ok(challenge) = resp.json::<Value>().await else { break };
                        let Some(nonce) = challenge["nonce"].as_str() else { break };
                        let token = device.checkin_token("block-crash", nonce, Outcome::Match);
                        sent += 1;
                        let Ok(resp) =
                            client.post(format!("{base}/v1/checkins")).json(&json!({ "token": token })).send().await
                        else {
                            break;
                        };
                        let status = resp.status();
                        let Ok(body) = resp.json::<Value>().await else { break };
                        if status.is_success() {
                            acked
                                .lock()
                                .unwrap()
                                .insert((device.driver.clone(), device.counter), (body["checkin_id"].clone(), token));
                        } else {
                            panic!("a check-in in the stream was refused: {status} {body}");
                        }
                    }
                    (device, sent)
                }));
            }
            // Let the stream run, then kill the process without warning, mid-request.
            tokio::time::sleep(Duration::from_millis(700 + 300 * kill as u64)).await;
            server.kill9();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for task in tasks {
                let (device, sent) = task.await.expect("stream task");
                total_sent += sent;
                devices.push(device);
            }
            server = Server::start(&db);
        }
        let acked = acked.lock().unwrap().clone();
        assert!(acked.len() >= 20, "{:?}: the stream ran long enough to mean something ({})", db.backend, acked.len());

        // Every acknowledged check-in is in the record, once.
        let rows = db.checkins(None);
        let mut recorded: HashMap<(String, u64), usize> = HashMap::new();
        for row in &rows {
            let driver = row["driver"].as_str().expect("driver").to_owned();
            let counter = row["counter"].as_u64().expect("counter");
            *recorded.entry((driver, counter)).or_default() += 1;
        }
        for key in acked.keys() {
            assert_eq!(
                recorded.get(key),
                Some(&1),
                "{:?}: acknowledged check-in {key:?} lost after kill -9",
                db.backend
            );
        }
        assert!(rows.len() <= total_sent, "no check-in recorded that was never sent");

        // The restarted service still knows each acknowledged token: the same stored answer.
        for ((driver, counter), (checkin_id, token)) in acked.iter().take(10) {
            let (status, body) = post_json(&client, &server.url("/v1/checkins"), &json!({ "token": token })).await;
            assert_eq!(status, 200, "resubmitted {driver}/{counter} after restart: {body}");
            assert_eq!(&body["checkin_id"], checkin_id, "same stored check-in after restart");
        }

        // And the devices carry on: a check-in after the restarts is accepted with the next counter.
        for device in devices.iter_mut().take(2) {
            let (status, body, _) = device.check_in(&client, &server, "block-after", Outcome::Match).await;
            assert_eq!(status, 200, "{body}");
            // A check-in whose answer the kill swallowed may show as a counter gap: review, not a refusal.
            assert!(["accepted", "review"].contains(&body["verdict"].as_str().unwrap_or("")), "{body}");
        }
        eprintln!(
            "{:?}: {} sent, {} acknowledged, {} recorded over {KILLS} kills",
            db.backend,
            total_sent,
            acked.len(),
            rows.len()
        );
    }
}
