//! `facecheck liveness` and `facecheck eval pad`: presentation-attack detection on one photo, and its error rates on
//! folders of live and attack photos, in the ISO/IEC 30107-3 vocabulary (APCER: attacks accepted as live; BPCER:
//! bona fide, i.e. live, presentations rejected). Rates come with their counts and 95 % Wilson intervals.
//!
//! Plain `eval pad` reports the shipped rule on the folders, and which rule of each family the folders would choose
//! (how the manifest's rule is chosen: in sample). `--folds-by-subject N` reports out of sample
//! (`pad_folds.rs`); `--perturb` scores every photo again under each edit of [`Edit::ROBUSTNESS`].

use crate::metrics::{self, Trial};
use crate::pad_folds::{self, Family, FoldsReport};
use crate::pad_rates::{rates_line, Rates, Sample};
use crate::parallel;
use facecheck::edits::Edit;
use facecheck::liveness::{YUNET_HEIGHT_TO_TRAINING, YUNET_WIDTH_TO_TRAINING};
use facecheck::quality::{self, QualityLimits};
use facecheck::{decode_image, BoundingBox, Engine, Error, Face, FaceChoice, LivenessRule, LivenessScore, Screening};
use image::RgbImage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `facecheck liveness`.
#[derive(clap::Args)]
pub struct LivenessArgs {
    /// The photo (JPEG or PNG); with --challenge, the frames of one attempt in time order.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Run the active check instead: the nonce whose head poses the frames must show (printed with the decision
    /// and the reason as JSON).
    #[arg(long, conflicts_with = "edits")]
    pub challenge: Option<String>,
    /// Also score the photo after each edit the liveness decision is tested under (contrast, gamma, unsharp mask,
    /// JPEG, rotation), with the shipped rule's decision.
    #[arg(long)]
    edits: bool,
}

/// `facecheck eval pad`.
#[derive(clap::Args)]
pub struct PadArgs {
    /// Folder of live (bona fide) photos, walked recursively; with --folds-by-subject, one folder per subject.
    #[arg(long)]
    live: PathBuf,
    /// Folder of attack photos (printed photos, screens), walked recursively; subject folders as in --live.
    #[arg(long)]
    spoof: PathBuf,
    /// The BPCER each rule's thresholds are chosen for (how the manifest's liveness rule is chosen).
    #[arg(long, default_value_t = 0.01)]
    target_bpcer: f64,
    /// Subject-disjoint evaluation: split the subjects (first folder level under --live and --spoof) into this
    /// many folds; each fold is held out once, every rule is chosen on the other folds and decides the held-out
    /// photos; the held-out decisions are pooled.
    #[arg(long)]
    folds_by_subject: Option<usize>,
    /// Also score every photo after each edit of the robustness set, and report the rates per edit.
    #[arg(long)]
    perturb: bool,
    /// The face box the context crops start from: `training` (shipped: YuNet's box reshaped into the box of the
    /// detector the models were trained with) or `yunet` (YuNet's own box), to compare them.
    #[arg(long, value_enum, default_value_t = CropBox::Training)]
    r#box: CropBox,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the DET curve of the shipped rule (BPCER against APCER, linear axes) as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Which face box the liveness crops start from in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CropBox {
    /// The shipped crop: `liveness::training_box` of YuNet's box.
    Training,
    /// YuNet's box as it is.
    Yunet,
}

impl CropBox {
    /// The face to hand to the liveness check so that its crops start from this box: for `Yunet`, a box that
    /// `liveness::training_box` turns back into YuNet's (width x 0.86, height x 1.17 about the centre).
    fn face_for_liveness(self, face: &Face) -> Face {
        match self {
            CropBox::Training => face.clone(),
            CropBox::Yunet => {
                let (cx, cy) = face.bbox.centre();
                let half_w = face.bbox.width() * YUNET_WIDTH_TO_TRAINING / 2.0;
                let half_h = face.bbox.height() * YUNET_HEIGHT_TO_TRAINING / 2.0;
                let bbox = BoundingBox { x1: cx - half_w, y1: cy - half_h, x2: cx + half_w, y2: cy + half_h };
                Face { bbox, ..face.clone() }
            }
        }
    }
}

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

fn print_scores(s: &LivenessScore) {
    println!("MiniFASNetV2 (context 2.7) real probability:   {:.4}", s.minifasnet_v2);
    println!("MiniFASNetV1SE (context 4.0) real probability: {:.4}", s.minifasnet_v1se);
    println!("rule: live when {}", s.rule.id());
}

/// The liveness of the largest face in `image`, with crops from `crop`; `None` when there is no face (or its box
/// is degenerate).
fn largest_face_liveness(engine: &Engine, image: &RgbImage, crop: CropBox) -> Result<Option<LivenessScore>, Error> {
    let faces = engine.detector().detect(image)?;
    let Some(face) = FaceChoice::Largest.pick(&faces, image.width(), image.height()) else { return Ok(None) };
    match engine.liveness().check(image, &crop.face_for_liveness(face)) {
        Ok(score) => Ok(Some(score)),
        Err(Error::NoFace) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `facecheck liveness IMG [--edits]` (`main` runs `active::liveness` for `--challenge`): the front half of a check-in on one photo, with the liveness scores.
pub fn liveness(engine: &Engine, args: &LivenessArgs) -> Result<(), String> {
    let [path] = args.images.as_slice() else {
        return Err("give one photo, or --challenge NONCE and the frames of an attempt".into());
    };
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
            if let Some(score) = largest_face_liveness(engine, &image, CropBox::Training).map_err(|e| e.to_string())? {
                println!("liveness of the largest face, for information only (the quality gates come first):");
                print_scores(&score);
            }
        }
    }
    if args.edits {
        println!("after each edit (largest face, liveness only):");
        println!("{:<16} {:>8} {:>8}  decision", "edit", "v2", "v1se");
        for edit in Edit::ROBUSTNESS {
            let edited = edit.apply(&image).map_err(|e| e.to_string())?;
            match largest_face_liveness(engine, &edited, CropBox::Training).map_err(|e| e.to_string())? {
                Some(s) => println!(
                    "{:<16} {:>8.4} {:>8.4}  {}",
                    edit.name(),
                    s.minifasnet_v2,
                    s.minifasnet_v1se,
                    if s.is_live { "live" } else { "spoof_suspected" }
                ),
                None => println!("{:<16} no face", edit.name()),
            }
        }
    }
    Ok(())
}

fn subject_and_sequence(root: &Path, path: &Path) -> (String, String) {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    parts.pop();
    let subject = parts.first().cloned().unwrap_or_default();
    let capture = stem.rsplit_once('_').map_or(stem.as_str(), |(prefix, _)| prefix).to_owned();
    parts.push(capture);
    (subject, parts.join("/"))
}

/// Everything the scoring pass gave.
struct Scored {
    samples: Vec<Sample>,
    no_face: [usize; 2],
    quality_rejected: [BTreeMap<&'static str, usize>; 2],
}

fn score_sets(engine: &Engine, args: &PadArgs, edits: &[Edit]) -> Result<Scored, String> {
    let (live, spoof) = (args.live.as_path(), args.spoof.as_path());
    let sets = [(true, live, images_under(live)?), (false, spoof, images_under(spoof)?)];
    if sets.iter().any(|(_, _, images)| images.is_empty()) {
        return Err("both --live and --spoof must hold JPEG or PNG images".into());
    }
    let jobs: Vec<(bool, &Path, &PathBuf)> =
        sets.iter().flat_map(|(live, root, images)| images.iter().map(move |path| (*live, *root, path))).collect();
    // Each photo: the first gate it fails, and the liveness models' probabilities as shot and under each edit.
    let scores = parallel::map(&jobs, "scoring liveness", |(_, _, path)| {
        let fail = |e: Error| format!("{}: {e}", path.display());
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let image = decode_image(&bytes).map_err(fail)?;
        let faces = engine.detector().detect(&image).map_err(fail)?;
        let rejected = quality::assess(&image, &faces, &QualityLimits::SHIPPED).err().map(|issue| issue.code());
        let mut probabilities = Vec::with_capacity(edits.len() + 1);
        for edit in std::iter::once(None).chain(edits.iter().map(Some)) {
            let edited = match edit {
                Some(edit) => edit.apply(&image).map_err(fail)?,
                None => image.clone(),
            };
            let score = largest_face_liveness(engine, &edited, args.r#box).map_err(fail)?;
            probabilities.push(score.map(|s| [s.minifasnet_v2, s.minifasnet_v1se]));
        }
        Ok((rejected, probabilities))
    })?;
    let mut scored = Scored { samples: Vec::new(), no_face: [0; 2], quality_rejected: Default::default() };
    for ((live, root, path), (rejected, probabilities)) in jobs.into_iter().zip(scores) {
        let class = usize::from(!live);
        if let Some(code) = rejected {
            *scored.quality_rejected[class].entry(code).or_default() += 1;
        }
        if probabilities[0].is_none() {
            scored.no_face[class] += 1;
            eprintln!("no usable face: {}", path.display());
        }
        let (subject, sequence) = subject_and_sequence(root, path);
        scored.samples.push(Sample { live, subject, sequence, probabilities });
    }
    Ok(scored)
}

/// A scalar for ROC curves: how far the rule's thresholds could be scaled before the decision changes (live
/// exactly when it is at least 1): the mean over its threshold, or the lower of each model's probability over its
/// own threshold.
fn rule_score(rule: LivenessRule, [v2, v1se]: [f32; 2]) -> f64 {
    let over = |p: f32, t: f32| f64::from(p) / f64::from(t).max(1e-9);
    match rule {
        LivenessRule::Mean { real_probability } => over((v2 + v1se) / 2.0, real_probability),
        LivenessRule::Both { minifasnet_v2, minifasnet_v1se } => {
            over(v2, minifasnet_v2).min(over(v1se, minifasnet_v1se))
        }
    }
}

/// A rule chosen on the whole of the folders for the target BPCER, and its rates there (in sample).
#[derive(Debug, serde::Serialize)]
pub struct Chosen {
    /// How its thresholds were chosen (`pad_folds::Family`).
    pub family: &'static str,
    /// The rule.
    pub rule: LivenessRule,
    /// Its rates on the photos it was chosen on.
    pub rates: Rates,
}

/// The results of `facecheck eval pad` (the `--json` object).
#[derive(Debug, serde::Serialize)]
pub struct PadReport {
    /// The face box the crops started from.
    #[serde(rename = "box")]
    pub crop_box: CropBox,
    /// Live photos with a usable face.
    pub live: usize,
    /// Attack photos with a usable face.
    pub spoof: usize,
    /// The shipped rule (the compiled-in manifest's).
    pub rule: LivenessRule,
    /// The shipped rule on the unedited photos.
    pub shipped: Rates,
    /// Area under the ROC curve of the shipped rule's scores (its thresholds scaled together).
    pub auc: f64,
    /// The BPCER the rules below and the folds' rules are chosen for.
    pub target_bpcer: f64,
    /// Each family's rule chosen on all of these photos, as the manifest's is, with its (in-sample) rates.
    pub chosen_here: Vec<Chosen>,
    /// Live and attack photos the quality gates would send back for a retake, by first failing gate (they are
    /// still scored).
    pub quality_rejected_live: BTreeMap<&'static str, usize>,
    /// See `quality_rejected_live`.
    pub quality_rejected_spoof: BTreeMap<&'static str, usize>,
    /// With `--perturb`: the shipped rule under each edit.
    pub shipped_under_edits: Vec<Rates>,
    /// With `--folds-by-subject`: each family chosen on some subjects and measured on the others.
    pub folds: Option<FoldsReport>,
}

/// Runs `facecheck eval pad`; returns the report and the shipped rule's trials (for the DET curve).
pub fn evaluate(engine: &Engine, args: &PadArgs) -> Result<(PadReport, Vec<Trial>), String> {
    if !(0.0..1.0).contains(&args.target_bpcer) {
        return Err("--target-bpcer must be in [0, 1)".into());
    }
    let edits: &[Edit] = if args.perturb { &Edit::ROBUSTNESS } else { &[] };
    let scored = score_sets(engine, args, edits)?;
    let samples = &scored.samples;
    let rule = engine.liveness().rule();
    let trials: Vec<Trial> = samples
        .iter()
        .filter_map(|s| s.probabilities[0].map(|p| Trial { score: rule_score(rule, p), genuine: s.live }))
        .collect();
    let chosen_here = Family::ALL
        .iter()
        .map(|&family| {
            let chosen = family.choose(samples, args.target_bpcer);
            Chosen { family: family.name(), rule: chosen, rates: Rates::of(chosen, samples, 0, edits) }
        })
        .collect();
    let folds = match args.folds_by_subject {
        Some(k) => Some(pad_folds::evaluate(samples, k, args.target_bpcer, edits)?),
        None => None,
    };
    let [quality_rejected_live, quality_rejected_spoof] = scored.quality_rejected;
    let report = PadReport {
        crop_box: args.r#box,
        live: trials.iter().filter(|t| t.genuine).count(),
        spoof: trials.iter().filter(|t| !t.genuine).count(),
        rule,
        shipped: Rates::of(rule, samples, 0, edits),
        auc: metrics::auc(&trials),
        target_bpcer: args.target_bpcer,
        chosen_here,
        quality_rejected_live,
        quality_rejected_spoof,
        shipped_under_edits: (1..=edits.len()).map(|i| Rates::of(rule, samples, i, edits)).collect(),
        folds,
    };
    Ok((report, trials))
}

/// The detection error trade-off: `(APCER, BPCER)` for every threshold, on linear axes.
pub fn det_points(trials: &[Trial]) -> Vec<(f64, f64)> {
    metrics::roc(trials).into_iter().map(|(far, tar)| (far, 1.0 - tar)).collect()
}

/// Prints the report for people.
pub fn print(report: &PadReport) {
    let crop = format!("{:?}", report.crop_box).to_lowercase();
    println!("scored: {} live, {} attack photos (largest face, {crop} box)", report.live, report.spoof);
    println!("shipped rule: live when {}", report.rule.id());
    println!("{}", rates_line("  unedited", &report.shipped));
    for r in &report.shipped_under_edits {
        println!("{}", rates_line(&format!("  {}", r.condition), r));
    }
    println!("ROC AUC of the shipped rule's score: {:.5}", report.auc);
    println!("chosen on all of these photos for BPCER {} % (in sample):", 100.0 * report.target_bpcer);
    for c in &report.chosen_here {
        println!("{}   live when {}", rates_line(&format!("  {}", c.family), &c.rates), c.rule.id());
    }
    println!(
        "quality gates would ask for a retake: live {:?}, attack {:?}",
        report.quality_rejected_live, report.quality_rejected_spoof
    );
    if let Some(folds) = &report.folds {
        pad_folds::print(folds);
    }
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

    #[test]
    fn subjects_are_the_first_folder_and_sequences_drop_the_frame_number() {
        let root = Path::new("/data/live");
        let (subject, sequence) = subject_and_sequence(root, &root.join("0003/0003_01_00_01_112.jpg"));
        assert_eq!((subject.as_str(), sequence.as_str()), ("0003", "0003/0003_01_00_01"));
        let (subject, sequence) = subject_and_sequence(root, &root.join("photo.jpg"));
        assert_eq!((subject.as_str(), sequence.as_str()), ("", "photo"));
    }

    #[test]
    fn rates_count_wrong_decisions_and_leave_out_photos_without_a_face() {
        let sample = |live, p: Option<[f32; 2]>| Sample {
            live,
            subject: String::new(),
            sequence: String::new(),
            probabilities: vec![p],
        };
        let samples = [
            sample(true, Some([0.9, 0.9])),
            sample(true, Some([0.9, 0.1])),
            sample(true, None),
            sample(false, Some([0.02, 0.9])),
            sample(false, Some([0.1, 0.1])),
        ];
        let mean = Rates::of(LivenessRule::Mean { real_probability: 0.4 }, &samples, 0, &[]);
        assert_eq!((mean.apcer.count, mean.apcer.of, mean.bpcer.count, mean.bpcer.of), (1, 2, 0, 2));
        let both = Rates::of(LivenessRule::Both { minifasnet_v2: 0.4, minifasnet_v1se: 0.4 }, &samples, 0, &[]);
        assert_eq!((both.apcer.count, both.bpcer.count, both.no_face_live, both.no_face_spoof), (0, 1, 1, 0));
        assert_eq!(both.condition, "none");
    }

    #[test]
    fn the_yunet_crop_box_undoes_the_training_box_reshaping() {
        let bbox = BoundingBox { x1: 100.0, y1: 50.0, x2: 186.0, y2: 167.0 };
        let face = Face { score: 0.9, bbox, landmarks: [(0.0, 0.0); 5] };
        let back = facecheck::liveness::training_box(&CropBox::Yunet.face_for_liveness(&face).bbox);
        for (got, want) in [(back.x1, bbox.x1), (back.y1, bbox.y1), (back.x2, bbox.x2), (back.y2, bbox.y2)] {
            assert!((got - want).abs() < 1e-3, "{back:?}");
        }
        assert_eq!(CropBox::Training.face_for_liveness(&face), face);
    }

    #[test]
    fn the_rule_score_is_one_at_the_thresholds() {
        let mean = LivenessRule::Mean { real_probability: 0.4 };
        assert!((rule_score(mean, [0.2, 0.6]) - 1.0).abs() < 1e-6);
        let both = LivenessRule::Both { minifasnet_v2: 0.2, minifasnet_v1se: 0.5 };
        assert!((rule_score(both, [0.4, 0.5]) - 1.0).abs() < 1e-6, "the lower ratio counts");
        assert!(rule_score(both, [0.1, 0.9]) < 1.0);
    }
}
