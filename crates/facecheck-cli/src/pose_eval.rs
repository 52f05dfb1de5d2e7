//! `facecheck eval pose`: the head-pose estimate ([`facecheck::HeadPose`]) on every photo of a folder, how the
//! active challenge's thresholds class them, and (with `--list`) each photo's values, to calibrate the thresholds
//! and to pick photos with a known turn.

use crate::pad::images_under;
use crate::parallel::progress;
use facecheck::pose::FRONTAL_PITCH;
use facecheck::{decode_image, Engine, FaceChoice, HeadPose, PoseClass, PoseThresholds};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `facecheck eval pose`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of photos, walked recursively.
    #[arg(long)]
    images: PathBuf,
    /// Also print one CSV line per photo (path, detector score, yaw, pitch, roll in degrees, class) on stdout.
    #[arg(long)]
    list: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Nearest-rank percentiles of one measure.
#[derive(Debug, serde::Serialize)]
struct Spread {
    p1: f32,
    p5: f32,
    p25: f32,
    p50: f32,
    p75: f32,
    p95: f32,
    p99: f32,
}

#[derive(Debug, serde::Serialize)]
struct Report {
    images: usize,
    no_face: usize,
    yaw: Option<Spread>,
    pitch: Option<Spread>,
    roll_degrees: Option<Spread>,
    /// Each photo's class against the frontal template's pitch (0.57), the pitch of no particular person.
    classes: BTreeMap<&'static str, usize>,
    thresholds: PoseThresholds,
}

fn spread(mut values: Vec<f32>) -> Option<Spread> {
    values.retain(|v| v.is_finite());
    values.sort_by(f32::total_cmp);
    let at = |p: f64| -> Option<f32> {
        let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
        values.get(rank - 1).copied()
    };
    Some(Spread {
        p1: at(1.0)?,
        p5: at(5.0)?,
        p25: at(25.0)?,
        p50: at(50.0)?,
        p75: at(75.0)?,
        p95: at(95.0)?,
        p99: at(99.0)?,
    })
}

/// The code of a class, as the CSV and JSON name it.
pub fn class_code(class: PoseClass) -> &'static str {
    match class {
        PoseClass::Frontal => "frontal",
        PoseClass::Posed(pose) => pose.code(),
        PoseClass::Between => "between",
    }
}

/// Runs the estimate on every photo under `--images` and prints the report.
pub fn command(engine: &Engine, args: &Args) -> Result<(), String> {
    let images = images_under(&args.images)?;
    if images.is_empty() {
        return Err(format!("no JPEG or PNG images under {}", args.images.display()));
    }
    let thresholds = PoseThresholds::SHIPPED;
    let bar = progress(images.len(), "estimating head poses");
    let (mut poses, mut no_face, mut classes) = (Vec::new(), 0, BTreeMap::new());
    if args.list {
        println!("path,score,yaw,pitch,roll_degrees,class");
    }
    for path in &images {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let image = decode_image(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let faces = engine.detector().detect(&image).map_err(|e| format!("{}: {e}", path.display()))?;
        let found = FaceChoice::Largest
            .pick(&faces, image.width(), image.height())
            .and_then(|face| Some((face.score, HeadPose::from_landmarks(&face.landmarks)?)));
        bar.inc(1);
        let Some((score, pose)) = found else {
            no_face += 1;
            continue;
        };
        let class = class_code(thresholds.classify(&pose, FRONTAL_PITCH));
        *classes.entry(class).or_insert(0) += 1;
        if args.list {
            bar.suspend(|| {
                println!(
                    "{},{score:.3},{:.4},{:.4},{:.2},{class}",
                    path.display(),
                    pose.yaw,
                    pose.pitch,
                    pose.roll_degrees
                )
            });
        }
        poses.push(pose);
    }
    bar.finish_and_clear();
    let report = Report {
        images: images.len(),
        no_face,
        yaw: spread(poses.iter().map(|p| p.yaw).collect()),
        pitch: spread(poses.iter().map(|p| p.pitch).collect()),
        roll_degrees: spread(poses.iter().map(|p| p.roll_degrees).collect()),
        classes,
        thresholds,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
    } else if !args.list {
        println!("images: {}, no face: {}", report.images, report.no_face);
        println!("percentiles     p1      p5     p25     p50     p75     p95     p99");
        for (name, s) in [("yaw", &report.yaw), ("pitch", &report.pitch), ("roll_degrees", &report.roll_degrees)] {
            if let Some(s) = s {
                println!(
                    "{name:<12} {:7.3} {:7.3} {:7.3} {:7.3} {:7.3} {:7.3} {:7.3}",
                    s.p1, s.p5, s.p25, s.p50, s.p75, s.p95, s.p99
                );
            }
        }
        println!("classes (against the frontal template's pitch {FRONTAL_PITCH}): {:?}", report.classes);
    }
    Ok(())
}
