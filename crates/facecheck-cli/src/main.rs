//! `facecheck`: the desktop command for Facecheck — compare and detect faces, evaluate on LFW, run the demo.

mod draw;
mod lfw;
mod metrics;

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
    /// Evaluate on a benchmark.
    Eval {
        #[command(subcommand)]
        benchmark: Benchmark,
    },
    /// Compare the bundled sample photos and explain the results.
    Demo {
        /// Folder with obama.jpg, obama1.jpg and biden.jpg.
        #[arg(long, default_value = SAMPLES_DIR)]
        samples: PathBuf,
    },
}

#[derive(Subcommand)]
enum Benchmark {
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
        /// Write the ROC curve (true accept rate against false accept rate) as a PNG.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("facecheck: {message}");
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
            let embed = |p: &Path| engine.embed_image(&read(p)?, FaceChoice::Largest).map_err(|e| format!("{}: {e}", p.display()));
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
        Command::Eval { benchmark: Benchmark::Lfw { images, pairs, train_pairs, json, plot } } => {
            let parse = |p: &Path| lfw::parse_pairs(&String::from_utf8_lossy(&read(p)?)).map_err(|e| format!("{}: {e}", p.display()));
            let test = parse(&pairs)?;
            let train = train_pairs.as_deref().map(parse).transpose()?;
            let engine = load_engine(&cli.models)?;
            let (report, trials) = lfw::evaluate(&engine, &images, &test, train.as_ref())?;
            if let Some(out) = plot {
                draw::curve(&metrics::roc(&trials)).save(&out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
            } else {
                println!("pairs: {}", report.pairs);
                println!("accuracy: {:.2} % ± {:.2}", 100.0 * report.accuracy, 100.0 * report.accuracy_std);
                println!("ROC AUC: {:.5}", report.auc);
                println!("TAR at FAR=1e-3: {:.2} %", 100.0 * report.tar_at_far_1e3);
                println!("distance threshold(s): {:?}", report.thresholds);
                println!("images with no face: {}", report.no_face);
                println!("ms per image: mean {:.1}, median {:.1}", report.ms_per_image_mean, report.ms_per_image_median);
            }
            Ok(())
        }
        Command::Demo { samples } => demo(&cli.models, &samples),
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
        println!("  distance between the face embeddings {:.3}; faces closer than {:.3} are taken as the same person.\n", c.distance, c.threshold);
    }
    println!("Each photo was decoded, its faces found (YuNet), the largest aligned on five landmarks and embedded");
    println!("(dlib ResNet-29, int8 weights); the threshold comes from models/manifest.json.");
    Ok(())
}
