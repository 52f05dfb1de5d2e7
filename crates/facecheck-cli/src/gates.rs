//! `facecheck eval quality`: how often the capture-quality gates reject the photos of a folder, and the
//! distribution of what they measure, to check that they leave ordinary photos alone.

use crate::pad::images_under;
use crate::parallel;
use facecheck::decode_image;
use facecheck::quality::{self, QualityIssue, QualityLimits, QualityMeasures};
use facecheck::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Percentiles of one measure over the images with a face.
#[derive(Debug, serde::Serialize)]
pub struct Spread {
    /// 1st percentile.
    pub p1: f32,
    /// 5th percentile.
    pub p5: f32,
    /// Median.
    pub p50: f32,
    /// 95th percentile.
    pub p95: f32,
    /// 99th percentile.
    pub p99: f32,
}

/// The results of `facecheck eval quality` (the `--json` object).
#[derive(Debug, serde::Serialize)]
pub struct QualityReport {
    /// Images read.
    pub images: usize,
    /// Images every gate accepts.
    pub accepted: usize,
    /// Images some gate rejects (no face included).
    pub rejected: usize,
    /// `rejected / images`.
    pub rejection_rate: f64,
    /// Rejections by the first failing gate: the reason the driver would be given.
    pub by_first_issue: BTreeMap<&'static str, usize>,
    /// Rejections by every failing gate: each gate's own rejection count.
    pub by_any_issue: BTreeMap<&'static str, usize>,
    /// The distribution of each measure over the images with a face.
    pub measures: BTreeMap<&'static str, Spread>,
    /// The limits applied.
    pub limits: QualityLimits,
}

/// An image some gate rejects.
pub struct Rejection {
    /// The image file.
    pub path: PathBuf,
    /// Every gate it fails, in the gates' order.
    pub issues: Vec<QualityIssue>,
}

/// Runs the gates on every image under `dir`; also returns each rejected image with its failing gates.
pub fn evaluate(engine: &Engine, dir: &Path) -> Result<(QualityReport, Vec<Rejection>), String> {
    let images = images_under(dir)?;
    if images.is_empty() {
        return Err(format!("no JPEG or PNG images under {}", dir.display()));
    }
    let limits = QualityLimits::SHIPPED;
    // Each image: its measures (none without a face) and every gate it fails.
    let results = parallel::map(&images, "measuring quality", |path| {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let image = decode_image(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let faces = engine.detector().detect(&image).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(match quality::measure(&image, &faces) {
            Some((_, m)) => (Some(m), limits.failures(&m)),
            None => (None, vec![QualityIssue::NoFace]),
        })
    })?;
    let mut measured: Vec<QualityMeasures> = Vec::new();
    let mut rejected = Vec::new();
    for (path, (measures, issues)) in images.iter().zip(results) {
        measured.extend(measures);
        if !issues.is_empty() {
            rejected.push(Rejection { path: path.clone(), issues });
        }
    }
    let (mut by_first_issue, mut by_any_issue) = (BTreeMap::new(), BTreeMap::new());
    for Rejection { issues, .. } in &rejected {
        *by_first_issue.entry(issues[0].code()).or_insert(0) += 1;
        for issue in issues {
            *by_any_issue.entry(issue.code()).or_insert(0) += 1;
        }
    }
    type Field = fn(&QualityMeasures) -> f32;
    let fields: [(&'static str, Field); 10] = [
        ("second_face_area_ratio", |m| m.second_face_area_ratio),
        ("outside_fraction", |m| m.outside_fraction),
        ("face_width", |m| m.face_width),
        ("face_extent", |m| m.face_extent),
        ("yaw", |m| m.yaw),
        ("roll_degrees", |m| m.roll_degrees),
        ("pitch", |m| m.pitch),
        ("mean_luma", |m| m.mean_luma),
        ("bright_fraction", |m| m.bright_fraction),
        ("sharpness", |m| m.sharpness),
    ];
    let measures = fields
        .iter()
        .filter_map(|(name, get)| spread(measured.iter().map(get).collect()).map(|s| (*name, s)))
        .collect();
    let report = QualityReport {
        images: images.len(),
        accepted: images.len() - rejected.len(),
        rejected: rejected.len(),
        rejection_rate: rejected.len() as f64 / images.len() as f64,
        by_first_issue,
        by_any_issue,
        measures,
        limits,
    };
    Ok((report, rejected))
}

/// Nearest-rank percentiles; `None` for no values.
fn spread(mut values: Vec<f32>) -> Option<Spread> {
    values.sort_by(f32::total_cmp);
    let at = |p: f64| -> Option<f32> {
        let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
        values.get(rank - 1).copied()
    };
    Some(Spread { p1: at(1.0)?, p5: at(5.0)?, p50: at(50.0)?, p95: at(95.0)?, p99: at(99.0)? })
}

/// Prints the report for people.
pub fn print(report: &QualityReport) {
    println!("images: {}", report.images);
    println!("rejected: {} ({:.2} %)", report.rejected, 100.0 * report.rejection_rate);
    println!("by the reason given (first failing gate): {:?}", report.by_first_issue);
    println!("by gate (every failing gate): {:?}", report.by_any_issue);
    println!("measures over the images with a face (p1 / p5 / p50 / p95 / p99):");
    for (name, s) in &report.measures {
        println!("  {name:24} {:9.3} {:9.3} {:9.3} {:9.3} {:9.3}", s.p1, s.p5, s.p50, s.p95, s.p99);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = spread((1..=200).map(|v| v as f32).collect()).expect("values");
        assert_eq!((s.p1, s.p5, s.p50, s.p95, s.p99), (2.0, 10.0, 100.0, 190.0, 198.0));
        let one = spread(vec![7.0]).expect("a value");
        assert_eq!((one.p1, one.p99), (7.0, 7.0));
        assert!(spread(Vec::new()).is_none());
    }
}
