//! `facecheck liveness` and `facecheck eval pad`: presentation-attack detection on one photo, and its error rates on
//! folders of live and attack photos, in the ISO/IEC 30107-3 vocabulary (APCER: attacks accepted as live; BPCER:
//! bona fide, i.e. live, presentations rejected).

use crate::metrics::{self, Trial};
use facecheck::quality::{self, QualityLimits};
use facecheck::{decode_image, Engine, Error, FaceChoice, LivenessRule, LivenessScore, Screening};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The JPEG and PNG files (by extension) under `dir`, recursively, in a stable order.
pub fn images_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| format!("cannot list {}: {e}", folder.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("cannot list {}: {e}", folder.display()))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_ascii_lowercase().as_str()))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A progress bar on stderr, styled like the LFW evaluation's.
pub fn progress(len: usize, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} images, {eta} left").expect("valid template"),
    );
    bar.set_message(message);
    bar
}

fn print_scores(s: &LivenessScore) {
    println!("MiniFASNetV2 (context 2.7) real probability:   {:.4}", s.minifasnet_v2);
    println!("MiniFASNetV1SE (context 4.0) real probability: {:.4}", s.minifasnet_v1se);
    println!("rule: live when {}", s.rule.id());
}

/// `facecheck liveness IMG`: the front half of a check-in on one photo, with the liveness scores.
pub fn liveness(engine: &Engine, path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let image = decode_image(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    match engine.screen_image(&image).map_err(|e| e.to_string())? {
        Screening::Passed { liveness, .. } => {
            println!("decision: live");
            println!("reason: one usable face, and the liveness models take it for a real face");
            print_scores(&liveness);
        }
        Screening::SpoofSuspected { liveness } => {
            println!("decision: spoof_suspected");
            println!(
                "reason: the liveness models take the face for a presentation attack (a printed photo or a screen)"
            );
            print_scores(&liveness);
        }
        Screening::Retake(issue) => {
            println!("decision: retake ({})", issue.code());
            println!("reason: {issue}");
            let faces = engine.detector().detect(&image).map_err(|e| e.to_string())?;
            if let Some(face) = FaceChoice::Largest.pick(&faces, image.width(), image.height()) {
                println!("liveness of the largest face, for information only (the quality gates come first):");
                print_scores(&engine.liveness().check(&image, face).map_err(|e| e.to_string())?);
            }
        }
    }
    Ok(())
}

/// The results of `facecheck eval pad` (the `--json` object). Rates are fractions; images with no usable face are
/// left out of them and counted separately, as ISO/IEC 30107-3 reports failures to acquire apart.
#[derive(Debug, serde::Serialize)]
pub struct PadReport {
    /// Live images scored.
    pub live: usize,
    /// Attack images scored.
    pub spoof: usize,
    /// The rule the rates `apcer` and `bpcer` are for: the manifest's.
    pub rule: LivenessRule,
    /// Attacks accepted as live at `threshold`.
    pub apcer: f64,
    /// Live faces rejected at `threshold`.
    pub bpcer: f64,
    /// APCER at the strictest threshold whose BPCER is at most 1 %.
    #[serde(rename = "apcer_at_bpcer_0.01")]
    pub apcer_at_bpcer_1: f64,
    /// APCER at the strictest threshold whose BPCER is at most 5 %.
    #[serde(rename = "apcer_at_bpcer_0.05")]
    pub apcer_at_bpcer_5: f64,
    /// BPCER at the loosest threshold whose APCER is at most 1 %.
    #[serde(rename = "bpcer_at_apcer_0.01")]
    pub bpcer_at_apcer_1: f64,
    /// BPCER at the loosest threshold whose APCER is at most 5 %.
    #[serde(rename = "bpcer_at_apcer_0.05")]
    pub bpcer_at_apcer_5: f64,
    /// Area under the ROC curve (live against attack, by mean real-probability).
    pub auc: f64,
    /// The threshold this data gives for the target BPCER (`--target-bpcer`), and its rates here.
    pub for_target_bpcer: ChosenThreshold,
    /// Live images with no usable face.
    pub no_face_live: usize,
    /// Attack images with no usable face.
    pub no_face_spoof: usize,
    /// Live images the quality gates would send back for a retake, by first failing gate (they are still scored).
    pub quality_rejected_live: BTreeMap<&'static str, usize>,
    /// Attack images the quality gates would send back for a retake, by first failing gate (still scored).
    pub quality_rejected_spoof: BTreeMap<&'static str, usize>,
}

/// A threshold chosen for a BPCER, as the manifest records it.
#[derive(Debug, serde::Serialize)]
pub struct ChosenThreshold {
    /// The BPCER it was chosen for.
    pub target_bpcer: f64,
    /// The threshold on the mean real-probability: halfway between the live scores on either side of the allowed
    /// number of rejections.
    pub real_probability: f64,
    /// APCER at this threshold.
    pub apcer: f64,
    /// BPCER at this threshold.
    pub bpcer: f64,
}

/// What one image gave.
struct Scored {
    score: Option<LivenessScore>,
    quality_issue: Option<&'static str>,
}

fn score_image(engine: &Engine, path: &Path) -> Result<Scored, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let image = decode_image(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let faces = engine.detector().detect(&image).map_err(|e| format!("{}: {e}", path.display()))?;
    let quality_issue = quality::assess(&image, &faces, &QualityLimits::SHIPPED).err().map(|i| i.code());
    let Some(face) = FaceChoice::Largest.pick(&faces, image.width(), image.height()) else {
        return Ok(Scored { score: None, quality_issue });
    };
    let score = match engine.liveness().check(&image, face) {
        Ok(score) => Some(score),
        Err(Error::NoFace) => None,
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    Ok(Scored { score, quality_issue })
}

/// Scores every image under `live` and `spoof` (largest face, no quality gate in the way) and computes the rates.
/// Returns the report and the trials (score = mean real-probability, genuine = live).
pub fn evaluate(
    engine: &Engine,
    live: &Path,
    spoof: &Path,
    target_bpcer: f64,
) -> Result<(PadReport, Vec<Trial>), String> {
    let live_images = images_under(live)?;
    let spoof_images = images_under(spoof)?;
    if live_images.is_empty() || spoof_images.is_empty() {
        return Err("both --live and --spoof must hold JPEG or PNG images".into());
    }
    let bar = progress(live_images.len() + spoof_images.len(), "scoring liveness");
    let mut trials = Vec::new();
    let mut no_face = [0usize; 2];
    let mut rejected: [BTreeMap<&'static str, usize>; 2] = Default::default();
    for (genuine, images) in [(true, &live_images), (false, &spoof_images)] {
        let class = usize::from(!genuine);
        for path in images {
            let scored = score_image(engine, path)?;
            if let Some(code) = scored.quality_issue {
                *rejected[class].entry(code).or_default() += 1;
            }
            match scored.score {
                Some(s) => {
                    trials.push(Trial { score: f64::from((s.minifasnet_v2 + s.minifasnet_v1se) / 2.0), genuine })
                }
                None => {
                    no_face[class] += 1;
                    bar.suspend(|| eprintln!("no usable face: {}", path.display()));
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let rule = engine.liveness().rule();
    let LivenessRule::Mean { real_probability } = rule else {
        return Err(format!("eval pad measures the mean of the two models; the manifest's rule is {}", rule.id()));
    };
    let (apcer, bpcer) = metrics::error_rates(&trials, f64::from(real_probability));
    let chosen = metrics::threshold_at_frr(&trials, target_bpcer);
    let (chosen_apcer, chosen_bpcer) = metrics::error_rates(&trials, chosen);
    let [quality_rejected_live, quality_rejected_spoof] = rejected;
    let report = PadReport {
        live: trials.iter().filter(|t| t.genuine).count(),
        spoof: trials.iter().filter(|t| !t.genuine).count(),
        rule,
        apcer,
        bpcer,
        apcer_at_bpcer_1: metrics::far_at_tar(&trials, 0.99),
        apcer_at_bpcer_5: metrics::far_at_tar(&trials, 0.95),
        bpcer_at_apcer_1: 1.0 - metrics::tar_at_far(&trials, 0.01),
        bpcer_at_apcer_5: 1.0 - metrics::tar_at_far(&trials, 0.05),
        auc: metrics::auc(&trials),
        for_target_bpcer: ChosenThreshold {
            target_bpcer,
            real_probability: chosen,
            apcer: chosen_apcer,
            bpcer: chosen_bpcer,
        },
        no_face_live: no_face[0],
        no_face_spoof: no_face[1],
        quality_rejected_live,
        quality_rejected_spoof,
    };
    Ok((report, trials))
}

/// The detection error trade-off: `(APCER, BPCER)` for every threshold, on linear axes.
pub fn det_points(trials: &[Trial]) -> Vec<(f64, f64)> {
    metrics::roc(trials).into_iter().map(|(far, tar)| (far, 1.0 - tar)).collect()
}

/// Prints the report for people.
pub fn print(report: &PadReport) {
    let pct = |v: f64| format!("{:.2} %", 100.0 * v);
    println!("scored: {} live, {} attack images", report.live, report.spoof);
    println!("with the shipped rule {}: APCER {}, BPCER {}", report.rule.id(), pct(report.apcer), pct(report.bpcer));
    println!("APCER at BPCER 1 %: {}; at BPCER 5 %: {}", pct(report.apcer_at_bpcer_1), pct(report.apcer_at_bpcer_5));
    println!("BPCER at APCER 1 %: {}; at APCER 5 %: {}", pct(report.bpcer_at_apcer_1), pct(report.bpcer_at_apcer_5));
    println!("ROC AUC: {:.5}", report.auc);
    let c = &report.for_target_bpcer;
    println!(
        "threshold for BPCER {} on this data: {:.4} (APCER {}, BPCER {})",
        pct(c.target_bpcer),
        c.real_probability,
        pct(c.apcer),
        pct(c.bpcer)
    );
    println!("no usable face: {} live, {} attack", report.no_face_live, report.no_face_spoof);
    println!(
        "quality gates would ask for a retake: live {:?}, attack {:?}",
        report.quality_rejected_live, report.quality_rejected_spoof
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_found_recursively_by_extension_in_order() {
        let root = std::env::temp_dir().join(format!("facecheck-pad-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("b/c")).expect("temp dirs");
        for f in ["b/c/2.JPG", "b/1.png", "a.jpeg", "notes.txt", "b/c/x.gif"] {
            std::fs::write(root.join(f), b"").expect("temp file");
        }
        let found: Vec<String> = images_under(&root)
            .expect("walks")
            .iter()
            .map(|p| p.strip_prefix(&root).expect("under root").to_string_lossy().into_owned())
            .collect();
        std::fs::remove_dir_all(&root).expect("cleanup");
        assert_eq!(found, ["a.jpeg", "b/1.png", "b/c/2.JPG"]);
        assert!(images_under(&root).is_err(), "a missing folder is an error");
    }

    #[test]
    fn det_points_run_from_no_attack_accepted_to_no_live_rejected() {
        let trials = [
            Trial { score: 0.9, genuine: true },
            Trial { score: 0.2, genuine: true },
            Trial { score: 0.5, genuine: false },
        ];
        assert_eq!(det_points(&trials), vec![(0.0, 1.0), (0.0, 0.5), (1.0, 0.5), (1.0, 0.0)]);
    }
}
