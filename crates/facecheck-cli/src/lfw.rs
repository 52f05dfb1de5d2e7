//! `facecheck eval lfw`: the LFW verification protocols.

use crate::groups::{self, Labels};
use crate::metrics::{self, Rate, ThresholdAtFmr, Trial};
use crate::parallel;
use facecheck::{Embedding, Engine, Error, FaceChoice};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One pair of an LFW pairs file: two image keys `(name, number)` and the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// First image.
    pub a: (String, u32),
    /// Second image.
    pub b: (String, u32),
    /// Same person.
    pub same: bool,
}

/// A parsed pairs file: its pairs, in folds (one fold for the View 1 files).
#[derive(Debug)]
pub struct PairsFile {
    /// Pairs by fold.
    pub folds: Vec<Vec<Pair>>,
}

/// Parses `pairsDevTrain.txt`/`pairsDevTest.txt` (first line `N`: N same then N different pairs) or the 10-fold
/// `pairs.txt` (first line `10 300`: each fold 300 same then 300 different).
pub fn parse_pairs(text: &str) -> Result<PairsFile, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<usize> = lines
        .next()
        .ok_or("empty pairs file")?
        .split_whitespace()
        .map(|t| t.parse().map_err(|_| format!("bad header number `{t}`")))
        .collect::<Result<_, _>>()?;
    let (folds, per_class) = match header[..] {
        [n] => (1, n),
        [f, n] => (f, n),
        _ => return Err("the first line must be `N` or `FOLDS N`".into()),
    };
    let mut result = Vec::with_capacity(folds);
    for fold in 0..folds {
        let mut pairs = Vec::with_capacity(2 * per_class);
        for i in 0..2 * per_class {
            let line =
                lines.next().ok_or_else(|| format!("fold {fold}: expected {} pairs, found {i}", 2 * per_class))?;
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |s: &str| s.parse::<u32>().map_err(|_| format!("bad image number in `{line}`"));
            let pair = match f[..] {
                [name, i, j] => Pair { a: (name.into(), num(i)?), b: (name.into(), num(j)?), same: true },
                [n1, i, n2, j] => Pair { a: (n1.into(), num(i)?), b: (n2.into(), num(j)?), same: false },
                _ => return Err(format!("bad pair line `{line}`")),
            };
            if pair.same != (i < per_class) {
                return Err(format!("fold {fold}: pair {i} is not where its kind belongs: `{line}`"));
            }
            pairs.push(pair);
        }
        result.push(pairs);
    }
    if lines.next().is_some() {
        return Err("more lines than the header announces".into());
    }
    Ok(PairsFile { folds: result })
}

/// What embedding every image of the pairs produced, and how long each took.
pub struct Embedded {
    embeddings: BTreeMap<(String, u32), Option<Embedding>>,
    /// Milliseconds per image (decode, detect, align, embed).
    pub ms: Vec<f64>,
    /// Images where no face was found.
    pub no_face: Vec<String>,
}

fn image_path(images: &Path, (name, n): &(String, u32)) -> PathBuf {
    images.join(name).join(format!("{name}_{n:04}.jpg"))
}

/// Embeds every image the pairs name (each once, on every core), with a progress bar on stderr.
pub fn embed_all(engine: &Engine, images: &Path, pairs: &[&Pair]) -> Result<Embedded, String> {
    let mut keys: Vec<(String, u32)> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    keys.sort();
    keys.dedup();
    let results = parallel::map(&keys, "embedding", |key| {
        let path = image_path(images, key);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let start = Instant::now();
        let result = engine.embed_image(&bytes, FaceChoice::Central);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(e) => Ok((Some(e), ms)),
            Err(Error::NoFace) => Ok((None, ms)),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    })?;
    let mut out = Embedded { embeddings: BTreeMap::new(), ms: Vec::new(), no_face: Vec::new() };
    for (key, (embedding, ms)) in keys.into_iter().zip(results) {
        out.ms.push(ms);
        if embedding.is_none() {
            out.no_face.push(image_path(images, &key).display().to_string());
        }
        out.embeddings.insert(key, embedding);
    }
    Ok(out)
}

impl Embedded {
    /// The pairs as trials scored by negated distance. A pair with a face-less image scores -infinity: it is
    /// decided "different", which counts against accuracy for same-person pairs.
    pub fn trials(&self, pairs: &[Pair]) -> Vec<Trial> {
        pairs
            .iter()
            .map(|p| {
                let score = match (&self.embeddings[&p.a], &self.embeddings[&p.b]) {
                    (Some(a), Some(b)) => -f64::from(a.distance(b)),
                    _ => f64::NEG_INFINITY,
                };
                Trial { score, genuine: p.same }
            })
            .collect()
    }
}

/// The evaluation's results (the `--json` object).
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// Mean accuracy on the test pairs (over folds for the 10-fold protocol).
    pub accuracy: f64,
    /// Standard deviation of the per-fold accuracy (0 for View 1).
    pub accuracy_std: f64,
    /// Area under the ROC of all test pairs.
    pub auc: f64,
    /// True accept rate at a false accept rate of 1e-3, on all test pairs.
    #[serde(rename = "tar_at_far_1e-3")]
    pub tar_at_far_1e3: f64,
    /// Distance threshold(s) used: one per fold.
    pub thresholds: Vec<f64>,
    /// With train pairs: the distance threshold whose false-match rate on the train pairs is at most the target
    /// (`--target-fmr`), and the false-match and false-non-match rates it gives on the test pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_target_fmr: Option<RatesAtThreshold>,
    /// Images with no face found (their pairs are decided "different").
    pub no_face: usize,
    /// Mean milliseconds per image.
    pub ms_per_image_mean: f64,
    /// Median milliseconds per image.
    pub ms_per_image_median: f64,
    /// Test pairs evaluated.
    pub pairs: usize,
    /// The shipped decision threshold (`models/manifest.json`): match when the distance is below it.
    pub shipped_threshold: f64,
    /// The test pairs' error rates at the shipped threshold.
    pub at_shipped_threshold: PairRates,
    /// With `--groups`: the same per attribute (`gender`, `race`) and group (`female`, ..., `mixed` for different-
    /// person pairs across groups, `unlabelled`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, BTreeMap<String, PairRates>>,
}

/// Error rates of a set of pairs at the shipped threshold.
#[derive(Debug, serde::Serialize)]
pub struct PairRates {
    /// Same-person pairs.
    pub genuine_pairs: usize,
    /// Different-person pairs.
    pub impostor_pairs: usize,
    /// Pairs with an image where no face was found (compared nothing), of all pairs.
    pub failure_to_acquire: Rate,
    /// False non-matches, of the compared same-person pairs.
    pub fnmr: Rate,
    /// False matches, of the compared different-person pairs.
    pub fmr: Rate,
    /// The thresholds that would give FMR 1e-3 and 1e-4 on these pairs, and their rates.
    pub thresholds_at_fmr: Vec<ThresholdAtFmr>,
}

#[derive(Default)]
struct PairCounts {
    genuine: usize,
    impostor: usize,
    not_acquired: usize,
    genuine_distances: Vec<f64>,
    impostor_distances: Vec<f64>,
}

impl PairCounts {
    fn rates(&self, threshold: f64) -> PairRates {
        PairRates {
            genuine_pairs: self.genuine,
            impostor_pairs: self.impostor,
            failure_to_acquire: Rate::new(self.not_acquired, self.genuine + self.impostor),
            fnmr: Rate::new(
                self.genuine_distances.iter().filter(|&&d| d >= threshold).count(),
                self.genuine_distances.len(),
            ),
            fmr: Rate::new(
                self.impostor_distances.iter().filter(|&&d| d < threshold).count(),
                self.impostor_distances.len(),
            ),
            thresholds_at_fmr: crate::eval_checkin::TARGET_FMRS
                .iter()
                .filter_map(|&t| {
                    metrics::distance_threshold_at_fmr(&self.genuine_distances, &self.impostor_distances, t)
                })
                .collect(),
        }
    }
}

/// The pairs' rates at `threshold`, overall and per group of `labels` (a pair belongs to the groups both its images
/// carry; see [`groups`]).
pub fn rates_by_group(
    embedded: &Embedded,
    pairs: &[Pair],
    threshold: f64,
    labels: Option<&Labels>,
) -> (PairRates, BTreeMap<String, BTreeMap<String, PairRates>>) {
    let mut overall = PairCounts::default();
    let mut by_group: BTreeMap<(usize, String), PairCounts> = BTreeMap::new();
    for pair in pairs {
        let distance = match (&embedded.embeddings[&pair.a], &embedded.embeddings[&pair.b]) {
            (Some(a), Some(b)) => Some(f64::from(a.distance(b))),
            _ => None,
        };
        let count = |c: &mut PairCounts| {
            match (pair.same, distance) {
                (true, Some(d)) => c.genuine_distances.push(d),
                (false, Some(d)) => c.impostor_distances.push(d),
                (_, None) => c.not_acquired += 1,
            }
            if pair.same {
                c.genuine += 1;
            } else {
                c.impostor += 1;
            }
        };
        count(&mut overall);
        if let Some(labels) = labels {
            let image = |(name, n): &(String, u32)| labels.image(name, &format!("{name}_{n:04}.jpg"));
            let images = [image(&pair.a), image(&pair.b)];
            for attribute in 0..groups::ATTRIBUTES.len() {
                for group in groups::of_comparison(&images, attribute) {
                    count(by_group.entry((attribute, group)).or_default());
                }
            }
        }
    }
    let mut groups: BTreeMap<String, BTreeMap<String, PairRates>> = BTreeMap::new();
    for ((attribute, group), counts) in &by_group {
        groups
            .entry(groups::ATTRIBUTES[*attribute].to_owned())
            .or_default()
            .insert(group.clone(), counts.rates(threshold));
    }
    (overall.rates(threshold), groups)
}

fn format_rate(r: &Rate) -> String {
    format!("{:.2} % ({}/{}, 95 % CI {:.2}–{:.2})", 100.0 * r.rate, r.count, r.of, 100.0 * r.ci95[0], 100.0 * r.ci95[1])
}

/// Prints the rates at the shipped threshold, overall and per group, for people.
pub fn print_groups(report: &Report) {
    println!("at the shipped threshold {:.4}:", report.shipped_threshold);
    let line = |name: &str, r: &PairRates| {
        println!("  {name:24} FNMR {}  FMR {}", format_rate(&r.fnmr), format_rate(&r.fmr));
    };
    line("all pairs", &report.at_shipped_threshold);
    for (attribute, groups) in &report.groups {
        for (group, rates) in groups {
            line(&format!("{attribute} {group}"), rates);
        }
    }
}

/// A threshold chosen for a false-match rate, and what it gives on held-out pairs.
#[derive(Debug, serde::Serialize)]
pub struct RatesAtThreshold {
    /// The target false-match rate.
    pub target_fmr: f64,
    /// The distance threshold chosen on the train pairs.
    pub distance: f64,
    /// False-match rate on the test pairs.
    pub fmr: f64,
    /// False-non-match rate on the test pairs.
    pub fnmr: f64,
}

fn rates(trials: &[Trial], score_threshold: f64) -> (f64, f64) {
    let count = |genuine: bool| trials.iter().filter(|t| t.genuine == genuine).count().max(1) as f64;
    let false_matches = trials.iter().filter(|t| !t.genuine && t.score >= score_threshold).count() as f64;
    let false_non_matches = trials.iter().filter(|t| t.genuine && t.score < score_threshold).count() as f64;
    (false_matches / count(false), false_non_matches / count(true))
}

/// Runs the protocol: with `train`, thresholds from the train pairs and accuracy on `test`; otherwise `test` must be
/// the 10-fold file, each fold scored with the threshold chosen on the other nine.
pub fn evaluate(
    engine: &Engine,
    images: &Path,
    test: &PairsFile,
    train: Option<&PairsFile>,
    target_fmr: f64,
    labels: Option<&Labels>,
) -> Result<(Report, Vec<Trial>), String> {
    let all_test: Vec<Pair> = test.folds.concat();
    let mut needed: Vec<&Pair> = all_test.iter().collect();
    if let Some(train) = train {
        needed.extend(train.folds.iter().flatten());
    } else if test.folds.len() < 2 {
        return Err("a single-fold pairs file needs --train-pairs to choose the threshold".into());
    }
    let embedded = embed_all(engine, images, &needed)?;
    let trials = embedded.trials(&all_test);
    let (mut accuracies, mut thresholds, mut at_target_fmr) = (Vec::new(), Vec::new(), None);
    match train {
        Some(train) => {
            let train_trials = embedded.trials(&train.folds.concat());
            let threshold = metrics::best_accuracy_threshold(&train_trials);
            accuracies.push(metrics::accuracy(&trials, threshold));
            thresholds.push(-threshold);
            let at_fmr = metrics::threshold_at_far(&train_trials, target_fmr);
            let (fmr, fnmr) = rates(&trials, at_fmr);
            at_target_fmr = Some(RatesAtThreshold { target_fmr, distance: -at_fmr, fmr, fnmr });
        }
        None => {
            for (k, fold) in test.folds.iter().enumerate() {
                let others: Vec<Pair> =
                    test.folds.iter().enumerate().filter(|(j, _)| *j != k).flat_map(|(_, f)| f.clone()).collect();
                let threshold = metrics::best_accuracy_threshold(&embedded.trials(&others));
                accuracies.push(metrics::accuracy(&embedded.trials(fold), threshold));
                thresholds.push(-threshold);
            }
        }
    }
    let (accuracy, accuracy_std) = metrics::mean_std(&accuracies);
    let shipped_threshold = f64::from(engine.threshold());
    let (at_shipped_threshold, groups) = rates_by_group(&embedded, &all_test, shipped_threshold, labels);
    let report = Report {
        accuracy,
        accuracy_std,
        auc: metrics::auc(&trials),
        tar_at_far_1e3: metrics::tar_at_far(&trials, 1e-3),
        thresholds,
        at_target_fmr,
        no_face: embedded.no_face.len(),
        ms_per_image_mean: metrics::mean_std(&embedded.ms).0,
        ms_per_image_median: metrics::median(&embedded.ms),
        pairs: all_test.len(),
        shipped_threshold,
        at_shipped_threshold,
        groups,
    };
    for path in &embedded.no_face {
        eprintln!("no face found: {path} (its pairs are decided \"different\")");
    }
    Ok((report, trials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_view1_and_ten_fold_files() {
        let view1 = parse_pairs("1\nA 1 2\nA 1 B 3\n").expect("parses");
        assert_eq!(view1.folds.len(), 1);
        assert_eq!(view1.folds[0][1], Pair { a: ("A".into(), 1), b: ("B".into(), 3), same: false });
        let folds = parse_pairs("2 1\nA 1 2\nA 1 B 3\nC 1 2\nC 1 D 1\n").expect("parses");
        assert_eq!(folds.folds.len(), 2);
    }

    #[test]
    fn rejects_malformed_files() {
        assert!(parse_pairs("").is_err());
        assert!(parse_pairs("1\nA 1 2\n").is_err(), "missing pair");
        assert!(parse_pairs("1\nA 1 B 2\nA 1 2\n").is_err(), "kinds out of order");
        assert!(parse_pairs("1\nA x 2\nA 1 B 2\n").is_err(), "bad number");
        assert!(parse_pairs("1\nA 1 2\nA 1 B 2\nextra 1 2\n").is_err(), "trailing pairs");
    }
}
