//! `facecheck`: the desktop command for Facecheck — compare and detect faces, evaluate on LFW, run the demo;
//! enroll, check in and erase on a device vault (`device`), and keep the fleet's registry and verify attestations
//! (`fleet`).
//!
//! `println!` and `eprintln!` in this crate are `output`'s: they end the process quietly on a closed pipe. Errors
//! end it with status 1 and one line on stderr, escaped (`output::escaped`).

// First: its macros are used by the modules below.
#[macro_use]
mod output;

mod active;
mod bench;
mod client;
mod device;
mod draw;
mod eval_checkin;
mod fairness_plot;
mod files;
mod fleet;
mod gates;
mod groups;
mod lfw;
mod metrics;
mod pad;
mod pad_folds;
mod pad_rates;
mod parallel;
mod pose_eval;

use clap::{Parser, Subcommand};
use facecheck::{decode_image, Engine, FaceChoice};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The repository's folders, as the binary was built from them.
const MODELS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models");
const SAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../facecheck/tests/fixtures");

#[derive(Parser)]
#[command(name = "facecheck", version, about = "On-device face verification, from the desktop")]
struct Cli {
    /// Folder holding the models named in the compiled-in manifest.
    #[arg(long, global = true, default_value = MODELS_DIR)]
    models: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare the main faces of two photos: match or no match, the distance and the threshold.
    Compare {
        /// First photo (JPEG or PNG).
        a: PathBuf,
        /// Second photo.
        b: PathBuf,
    },
    /// Find the faces in a photo and print them as JSON.
    Detect {
        /// The photo.
        image: PathBuf,
        /// Also write the photo with boxes and landmarks drawn on it (PNG).
        #[arg(long)]
        draw: Option<PathBuf>,
    },
    /// Run the quality gates and the liveness check on a photo: the decision, the reason, the liveness scores; or,
    /// with --challenge NONCE, the active head-turn check on the frames of one attempt.
    Liveness(pad::LivenessArgs),
    /// Evaluate on a benchmark.
    Eval {
        #[command(subcommand)]
        benchmark: Benchmark,
    },
    /// The whole story on this machine: compare the sample photos, then run the fleet service on loopback, enroll
    /// by code, check in a match and an impostor, and show what the fleet recorded.
    Demo {
        /// Folder with obama.jpg, obama1.jpg, obama2.jpg, exif_orientation6.jpg and biden.jpg.
        #[arg(long, default_value = SAMPLES_DIR)]
        samples: PathBuf,
    },
    /// Write a new random vault key (key-encryption key) to a file readable by its owner only.
    Keygen(device::KeygenArgs),
    /// Enroll a driver from 3 to 5 selfies: create the vault and device key, print the registration statement.
    Enroll(device::EnrollArgs),
    /// Check in for a block: print the signed attestation on stdout and the result on stderr.
    Checkin(device::CheckinArgs),
    /// Erase the enrolled face and print the signed erasure receipt.
    Erase(device::EraseArgs),
    /// Show a vault's state as JSON: enrolled, lock-out, retention deadline, device key id.
    Status(device::StatusArgs),
    /// Manage the fleet's registry of device keys.
    #[command(subcommand)]
    Registry(fleet::RegistryCommand),
    /// Verify check-in attestations and erasure receipts.
    #[command(subcommand)]
    Attest(fleet::AttestCommand),
    /// Time the pipeline: one JSON line per photo named on stdin, with the milliseconds of each check-in stage.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Load the models (`--loads` times), then time decode, detect, quality, liveness, align, embed, match and
    /// sign on each photo path read from stdin (`scripts/bench-vs-onnxruntime.sh` drives it).
    Stages(bench::StagesArgs),
}

#[derive(Subcommand)]
enum Benchmark {
    /// Presentation-attack detection: APCER and BPCER (with 95 % intervals) on folders of live and attack photos;
    /// out of sample by subject, and under edits.
    Pad(pad::PadArgs),
    /// Capture-quality gates: how many photos of a folder (walked recursively) they reject, and why.
    Quality {
        /// Folder of photos.
        #[arg(long)]
        images: PathBuf,
        /// Print the results as one JSON object.
        #[arg(long)]
        json: bool,
        /// Also list each rejected photo and its failing gates on stderr.
        #[arg(long)]
        list_rejected: bool,
    },
    /// LFW face verification (View 1 dev pairs, or the 10-fold pairs.txt).
    Lfw {
        /// Folder holding `<Person>/<Person>_NNNN.jpg`.
        #[arg(long)]
        images: PathBuf,
        /// Pairs to report on: `pairsDevTest.txt` (with --train-pairs) or the 10-fold `pairs.txt`.
        #[arg(long)]
        pairs: PathBuf,
        /// Pairs to choose the threshold on (`pairsDevTrain.txt`).
        #[arg(long)]
        train_pairs: Option<PathBuf>,
        /// Print the results as one JSON object.
        #[arg(long)]
        json: bool,
        /// With --train-pairs: also choose a threshold for this false-match rate on the train pairs and report
        /// its rates on the test pairs (how the manifest threshold is chosen).
        #[arg(long, default_value_t = 1e-3)]
        target_fmr: f64,
        /// Write the ROC curve as a PNG: true accept rate (0 to 1, upwards) against false accept rate on a log axis
        /// (1e-3, 1e-2, 1e-1 and 1 at 0, 1/3, 2/3 and all of the width).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Folder of demographic labels (`female_names.txt`, `male_names.txt`, optional `lfw_race_dict.json`):
        /// also report the error rates at the shipped threshold per group.
        #[arg(long)]
        groups: Option<PathBuf>,
    },
    /// The product's decision (a mean template of enrolled selfies against a check-in selfie, at the shipped
    /// threshold) on an LFW-style folder: FNMR, FMR, enrollment failures, failures to acquire, per group.
    Checkin(eval_checkin::Args),
    /// The head-pose estimate of the active challenge on every photo of a folder: its spread, how the thresholds
    /// class the photos, and (with --list) each photo's values.
    Pose(pose_eval::Args),
    /// The active head-turn check on folders of frame sequences (one sub-folder per attempt): BPCER and APCER with
    /// 95 % intervals, decisions by reason.
    Active(active::EvalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("facecheck: {}", output::escaped(&message));
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn load_engine(models: &Path) -> Result<Engine, String> {
    Engine::from_dir(models).map_err(|e| e.to_string())
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Compare { a, b } => {
            let engine = load_engine(&cli.models)?;
            let embed = |p: &Path| {
                engine.embed_image(&read(p)?, FaceChoice::Largest).map_err(|e| format!("{}: {e}", p.display()))
            };
            let c = engine.compare(&embed(&a)?, &embed(&b)?);
            let verdict = if c.is_match { "match" } else { "no match" };
            println!("{verdict} (distance {:.4}, threshold {:.4})", c.distance, c.threshold);
            Ok(())
        }
        Command::Detect { image, draw } => {
            let engine = load_engine(&cli.models)?;
            let mut img = decode_image(&read(&image)?).map_err(|e| format!("{}: {e}", image.display()))?;
            let faces = engine.detector().detect(&img).map_err(|e| e.to_string())?;
            let json = serde_json::json!({ "width": img.width(), "height": img.height(), "faces": faces });
            println!("{}", serde_json::to_string_pretty(&json).expect("serialisable"));
            if let Some(out) = draw {
                draw::faces(&mut img, &faces);
                img.save(&out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            }
            Ok(())
        }
        Command::Eval { benchmark: Benchmark::Lfw { images, pairs, train_pairs, target_fmr, json, plot, groups } } => {
            let parse = |p: &Path| {
                lfw::parse_pairs(&String::from_utf8_lossy(&read(p)?)).map_err(|e| format!("{}: {e}", p.display()))
            };
            let test = parse(&pairs)?;
            let train = train_pairs.as_deref().map(parse).transpose()?;
            let labels = groups.as_deref().map(groups::Labels::load).transpose()?;
            let engine = load_engine(&cli.models)?;
            let (report, trials) = lfw::evaluate(&engine, &images, &test, train.as_ref(), target_fmr, labels.as_ref())?;
            if let Some(out) = plot {
                // FAR on a log axis, 1e-3 at the left edge to 1 at the right: where verification thresholds live.
                let log_far: Vec<(f64, f64)> = metrics::roc(&trials)
                    .iter()
                    .map(|&(far, tar)| ((far.max(1e-3).log10() + 3.0) / 3.0, tar))
                    .collect();
                draw::curve(&log_far).save(&out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
            } else {
                println!("pairs: {}", report.pairs);
                println!("accuracy: {:.2} % ± {:.2}", 100.0 * report.accuracy, 100.0 * report.accuracy_std);
                println!("ROC AUC: {:.5}", report.auc);
                println!("TAR at FAR=1e-3: {:.2} %", 100.0 * report.tar_at_far_1e3);
                println!("distance threshold(s): {:?}", report.thresholds);
                if let Some(r) = &report.at_target_fmr {
                    println!(
                        "threshold for FMR {:e} on the train pairs: {:.4}; on the test pairs FMR {:.2} %, FNMR {:.2} %",
                        r.target_fmr,
                        r.distance,
                        100.0 * r.fmr,
                        100.0 * r.fnmr
                    );
                }
                println!("images with no face: {}", report.no_face);
                println!(
                    "ms per image: mean {:.1}, median {:.1}",
                    report.ms_per_image_mean, report.ms_per_image_median
                );
                lfw::print_groups(&report);
            }
            Ok(())
        }
        Command::Liveness(args) => match &args.challenge {
            Some(nonce) => active::liveness(&load_engine(&cli.models)?, nonce, &args.images),
            None => pad::liveness(&load_engine(&cli.models)?, &args),
        },
        Command::Eval { benchmark: Benchmark::Pad(args) } => {
            let engine = load_engine(&cli.models)?;
            let (report, trials) = pad::evaluate(&engine, &args)?;
            if let Some(out) = &args.plot {
                draw::curve(&pad::det_points(&trials))
                    .save(&out)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
            } else {
                pad::print(&report);
            }
            Ok(())
        }
        Command::Eval { benchmark: Benchmark::Quality { images, json, list_rejected } } => {
            let engine = load_engine(&cli.models)?;
            let (report, rejected) = gates::evaluate(&engine, &images)?;
            if list_rejected {
                for r in &rejected {
                    let codes: Vec<&str> = r.issues.iter().map(|i| i.code()).collect();
                    eprintln!("{}: {}", output::escaped(&r.path.display().to_string()), codes.join(", "));
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
            } else {
                gates::print(&report);
            }
            Ok(())
        }
        Command::Eval { benchmark: Benchmark::Checkin(args) } => eval_checkin::command(&cli.models, args),
        Command::Eval { benchmark: Benchmark::Active(args) } => active::evaluate(&load_engine(&cli.models)?, &args),
        Command::Eval { benchmark: Benchmark::Pose(args) } => pose_eval::command(&load_engine(&cli.models)?, &args),
        Command::Demo { samples } => demo(&cli.models, &samples),
        Command::Keygen(args) => device::keygen(args),
        Command::Enroll(args) => device::enroll(&cli.models, args),
        Command::Checkin(args) => device::checkin(&cli.models, args),
        Command::Erase(args) => device::erase(args),
        Command::Status(args) => device::status(args),
        Command::Registry(command) => fleet::registry(command),
        Command::Attest(command) => fleet::attest(command),
        Command::Bench(BenchCommand::Stages(args)) => bench::stages(&cli.models, &args),
    }
}

fn demo(models: &Path, samples: &Path) -> Result<(), String> {
    let engine = load_engine(models)?;
    println!("Facecheck demo: every step runs on this machine; no photo leaves it.\n");
    let embed = |name: &str| {
        let path = samples.join(name);
        engine.embed_image(&read(&path)?, FaceChoice::Largest).map_err(|e| format!("{}: {e}", path.display()))
    };
    let enrolled = embed("obama.jpg")?;
    for (name, who) in [("obama1.jpg", "the same person"), ("biden.jpg", "someone else")] {
        let c = engine.compare(&enrolled, &embed(name)?);
        let verdict = if c.is_match { "MATCH" } else { "NO MATCH" };
        println!("obama.jpg vs {name} ({who}): {verdict}");
        println!(
            "  distance between the face embeddings {:.3}; faces closer than {:.3} are taken as the same person.\n",
            c.distance, c.threshold
        );
    }
    println!("Each photo was decoded, its faces found (YuNet), the largest aligned on five landmarks and embedded");
    println!("(dlib ResNet-29, int8 weights); the threshold comes from models/manifest.json.\n");
    fleet_demo(&engine, samples)
}

/// The fleet half of the demo: the service in process on loopback (temporary SQLite file), the device side through
/// the same HTTP client as `enroll --server` and `checkin --server`.
fn fleet_demo(engine: &Engine, samples: &Path) -> Result<(), String> {
    let (fleet, driver) = ("demo-fleet", "driver-0042");
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let db = format!("sqlite:{}", dir.path().join("fleet.db").display());
    let server = runtime
        .block_on(facecheck_fleet::testing::TestServer::start(&db))
        .map_err(|e| format!("cannot start the fleet service: {e}"))?;
    let result = (|| {
        println!("The fleet service runs in this process at {} (SQLite in a temporary folder).", server.url());
        let code = runtime.block_on(server.enrollment_code(fleet, driver)).map_err(|e| e.message.clone())?;
        println!("1. The fleet's admin creates a single-use enrollment code for {driver} of {fleet}: {code}");
        let client = client::Client::new(&server.url())?;
        let kek = facecheck::Kek::generate().map_err(|e| e.to_string())?;
        let vault_path = dir.path().join("driver.vault");
        let photos = |names: &[&str]| names.iter().map(|n| read(&samples.join(n))).collect::<Result<Vec<_>, _>>();
        let selfies = photos(&["obama.jpg", "obama1.jpg", "obama2.jpg"])?;
        let notice = facecheck_fleet::service::DEFAULT_CONSENT_NOTICE;
        let who = (Some(fleet), Some(driver));
        let enrolled = device::enroll_by_code(engine, &vault_path, &kek, &client, &code, Some(notice), who, &selfies)?;
        println!(
            "2. The phone enrolls obama.jpg, obama1.jpg and obama2.jpg by that code (consent notice {notice}): the \
             template stays in the encrypted vault; the fleet registers device key {} and signs evidence, checked.",
            enrolled["kid"].as_str().unwrap_or("")
        );
        let mut vault = facecheck::Vault::open(&vault_path, &kek, device::clock()?).map_err(|e| e.to_string())?;
        let mut image_bytes: usize = selfies.iter().map(Vec::len).sum();
        for (step, (name, who, block)) in [
            ("exif_orientation6.jpg", "the driver", "block-am"),
            ("biden.jpg", "someone else holding the phone", "block-pm"),
        ]
        .into_iter()
        .enumerate()
        {
            let frames = photos(&[name])?;
            image_bytes += frames[0].len();
            let answer = device::checkin_at(engine, &mut vault, &vault_path, &client, block, &frames)?;
            println!(
                "{}. Check-in for {block} with {name} ({who}): the phone decides {}; the fleet's verdict: {}{}",
                step + 3,
                answer["outcome"].as_str().unwrap_or(""),
                answer["verdict"].as_str().unwrap_or(""),
                answer["reason"].as_str().filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default(),
            );
        }
        let db = &server.service().db;
        let checkins =
            runtime.block_on(facecheck_fleet::views::checkins(db, None, None, 100)).map_err(|e| e.to_string())?;
        println!("\nWhat the fleet recorded (facecheck-fleet admin checkins):");
        for row in checkins.iter().rev() {
            println!(
                "  {}  {:<12} {:<9} {:<9} counter {}  verdict {}{}",
                row["received"].as_str().unwrap_or(""),
                row["driver"].as_str().unwrap_or(""),
                row["block"].as_str().unwrap_or(""),
                row["outcome"].as_str().unwrap_or(""),
                row["counter"],
                row["verdict"].as_str().unwrap_or(""),
                row["reason"].as_str().filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default(),
            );
        }
        println!(
            "\nNo photo left the \"device\" side: the phone sent {} bytes of request bodies (a registration statement, two \
             challenge requests and two signed check-ins), the photos it judged are {image_bytes} bytes. The \
             fleet's no_match is for a person to review; nothing deactivates the driver.",
            client.bytes_sent()
        );
        Ok(())
    })();
    runtime.block_on(server.shutdown());
    result
}
