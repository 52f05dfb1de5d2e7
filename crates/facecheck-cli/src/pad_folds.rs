//! Out-of-sample liveness figures: `facecheck eval pad --folds-by-subject N`.
//!
//! The subjects (the first folder level of the live and attack sets) are sorted and dealt into `N` folds in turn.
//! Each fold is held out once: every [`Family`] chooses its rule on the unedited live photos of the other folds,
//! and that rule decides the held-out fold's photos, unedited and after each edit. The held-out decisions of all
//! folds are pooled into one APCER and one BPCER per family and condition, so every photo is decided once by a
//! rule that never saw its subject. The same rules also decide whole captures: the frames of a sequence are
//! averaged (each model's probability) before the rule is applied, to show what several frames would buy.

use crate::metrics::{self, Rate, Trial};
use crate::pad_rates::{rates_line, Rates, Sample};
use facecheck::edits::Edit;
use facecheck::LivenessRule;
use std::collections::{BTreeMap, BTreeSet};

/// A way of combining the two models and choosing its thresholds for a BPCER on live photos.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// One threshold on the mean of the two probabilities, rejecting at most the target BPCER.
    Mean,
    /// One threshold on the lower of the two (both must pass the same threshold), at the target BPCER.
    Min,
    /// A threshold per model, each rejecting at most half the target BPCER on its own (so that together they
    /// reject at most the target).
    Both,
}

impl Family {
    /// Every family, in report order.
    pub const ALL: [Family; 3] = [Family::Mean, Family::Min, Family::Both];

    /// `mean`, `min`, `both`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Mean => "mean",
            Family::Min => "min",
            Family::Both => "both",
        }
    }

    /// This family's rule for `target_bpcer` on the unedited live photos among `samples` (as
    /// [`metrics::threshold_at_frr`] chooses a threshold: halfway between the live scores on either side of the
    /// allowed number of rejections).
    pub fn choose<'a>(self, samples: impl IntoIterator<Item = &'a Sample>, target_bpcer: f64) -> LivenessRule {
        let live: Vec<[f32; 2]> = samples.into_iter().filter(|s| s.live).filter_map(|s| s.probabilities[0]).collect();
        let at = |score: fn([f32; 2]) -> f32, frr: f64| {
            let trials: Vec<Trial> =
                live.iter().map(|&p| Trial { score: f64::from(score(p)), genuine: true }).collect();
            metrics::threshold_at_frr(&trials, frr) as f32
        };
        match self {
            Family::Mean => LivenessRule::Mean { real_probability: at(|[a, b]| (a + b) / 2.0, target_bpcer) },
            Family::Min => {
                let t = at(|[a, b]| a.min(b), target_bpcer);
                LivenessRule::Both { minifasnet_v2: t, minifasnet_v1se: t }
            }
            Family::Both => LivenessRule::Both {
                minifasnet_v2: at(|[a, _]| a, target_bpcer / 2.0),
                minifasnet_v1se: at(|[_, b]| b, target_bpcer / 2.0),
            },
        }
    }
}

/// One family, out of sample.
#[derive(Debug, serde::Serialize)]
pub struct FamilyFolds {
    /// The family's name.
    pub family: &'static str,
    /// The rule each fold chose (on the other folds' subjects).
    pub rules: Vec<LivenessRule>,
    /// Pooled held-out decisions on single photos, unedited (`none`) and after each edit.
    pub frames: Vec<Rates>,
    /// Pooled held-out decisions on sequences (frames averaged), unedited and after each edit.
    pub sequences: Vec<Rates>,
}

/// The results of `--folds-by-subject`.
#[derive(Debug, serde::Serialize)]
pub struct FoldsReport {
    /// The subjects held out in each fold.
    pub folds: Vec<Vec<String>>,
    /// Each family's pooled held-out rates.
    pub families: Vec<FamilyFolds>,
}

/// Subject-disjoint rates of every family; see the module documentation.
pub fn evaluate(samples: &[Sample], k: usize, target_bpcer: f64, edits: &[Edit]) -> Result<FoldsReport, String> {
    if samples.iter().any(|s| s.subject.is_empty()) {
        return Err("--folds-by-subject needs one folder per subject under --live and --spoof".into());
    }
    let subjects: BTreeSet<&str> = samples.iter().map(|s| s.subject.as_str()).collect();
    if k < 2 || k > subjects.len() {
        return Err(format!("--folds-by-subject must be from 2 to the number of subjects ({})", subjects.len()));
    }
    let fold_of: BTreeMap<&str, usize> = subjects.iter().enumerate().map(|(i, &s)| (s, i % k)).collect();
    let folds: Vec<Vec<String>> =
        (0..k).map(|f| fold_of.iter().filter(|(_, &g)| g == f).map(|(s, _)| (*s).to_owned()).collect()).collect();
    let conditions = edits.len() + 1;
    let families = Family::ALL
        .iter()
        .map(|&family| {
            let mut rules = Vec::with_capacity(k);
            let (mut frames, mut sequences) = (vec![Vec::new(); conditions], vec![Vec::new(); conditions]);
            for fold in 0..k {
                let held_out = |s: &&Sample| fold_of[s.subject.as_str()] == fold;
                let rule = family.choose(samples.iter().filter(|s| !held_out(s)), target_bpcer);
                let test: Vec<&Sample> = samples.iter().filter(held_out).collect();
                let captures = average_sequences(&test);
                for c in 0..conditions {
                    frames[c].push(Rates::of(rule, test.iter().copied(), c, edits));
                    sequences[c].push(Rates::of(rule, &captures, c, edits));
                }
                rules.push(rule);
            }
            FamilyFolds {
                family: family.name(),
                rules,
                frames: frames.into_iter().map(pool).collect(),
                sequences: sequences.into_iter().map(pool).collect(),
            }
        })
        .collect();
    Ok(FoldsReport { folds, families })
}

/// One sample per sequence (and kind): each model's probability averaged over the frames with a usable face,
/// per condition.
fn average_sequences(samples: &[&Sample]) -> Vec<Sample> {
    let mut groups: BTreeMap<(bool, &str), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        groups.entry((s.live, s.sequence.as_str())).or_default().push(s);
    }
    groups
        .into_iter()
        .map(|((live, sequence), frames)| {
            let conditions = frames[0].probabilities.len();
            let probabilities = (0..conditions)
                .map(|c| {
                    let found: Vec<[f32; 2]> = frames.iter().filter_map(|f| f.probabilities[c]).collect();
                    let n = found.len() as f32;
                    (!found.is_empty()).then(|| [0, 1].map(|m| found.iter().map(|p| p[m]).sum::<f32>() / n))
                })
                .collect();
            Sample { live, subject: frames[0].subject.clone(), sequence: sequence.to_owned(), probabilities }
        })
        .collect()
}

/// The folds' rates of one condition, summed.
fn pool(parts: Vec<Rates>) -> Rates {
    let sum = |f: fn(&Rates) -> (usize, usize)| parts.iter().map(f).fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    let (apcer, attacks) = sum(|r| (r.apcer.count, r.apcer.of));
    let (bpcer, live) = sum(|r| (r.bpcer.count, r.bpcer.of));
    let (no_face_live, no_face_spoof) = sum(|r| (r.no_face_live, r.no_face_spoof));
    Rates {
        condition: parts.first().map(|r| r.condition.clone()).unwrap_or_default(),
        apcer: Rate::new(apcer, attacks),
        bpcer: Rate::new(bpcer, live),
        no_face_live,
        no_face_spoof,
    }
}

/// Prints the out-of-sample rates, one table per family.
pub fn print(report: &FoldsReport) {
    println!("subject-disjoint: {} folds, held out in turn: {:?}", report.folds.len(), report.folds);
    for f in &report.families {
        let rules: Vec<String> = f.rules.iter().map(LivenessRule::id).collect();
        println!("{} (rule per fold: {}):", f.family, rules.join(", "));
        for (frames, sequences) in f.frames.iter().zip(&f.sequences) {
            println!("{}", rates_line(&format!("  {}", frames.condition), frames));
            println!("{}", rates_line("    sequences", sequences));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(live: bool, subject: &str, sequence: &str, p: [f32; 2]) -> Sample {
        Sample { live, subject: subject.into(), sequence: sequence.into(), probabilities: vec![Some(p)] }
    }

    #[test]
    fn each_family_rejects_at_most_the_target_of_the_live_photos_it_is_chosen_on() {
        // Ten live photos; the models disagree on the two weakest.
        let mut samples: Vec<Sample> = (0..8).map(|i| sample(true, "a", "a/x", [0.5 + 0.05 * i as f32; 2])).collect();
        samples.push(sample(true, "a", "a/x", [0.1, 0.9]));
        samples.push(sample(true, "a", "a/x", [0.9, 0.2]));
        for family in Family::ALL {
            let rule = family.choose(&samples, 0.1);
            let rejected = samples.iter().filter(|s| !s.probabilities[0].is_some_and(|[a, b]| rule.is_live(a, b)));
            assert!(rejected.count() <= 1, "{family:?}: {rule:?}");
        }
        assert_eq!(Family::Mean.choose(&samples, 0.0), LivenessRule::Mean { real_probability: 0.5 });
        assert_eq!(
            Family::Min.choose(&samples, 0.1),
            LivenessRule::Both { minifasnet_v2: 0.15, minifasnet_v1se: 0.15 }
        );
        // Half of 10 % of ten photos allows none: each model's lowest live score.
        assert_eq!(Family::Both.choose(&samples, 0.1), LivenessRule::Both { minifasnet_v2: 0.1, minifasnet_v1se: 0.2 });
    }

    #[test]
    fn every_subject_is_held_out_once_and_rules_never_see_their_test_subjects() {
        // Subject "b" is live at 0.3 and every other subject at 0.9: only the fold holding "b" out can reject it.
        let mut samples = Vec::new();
        for subject in ["a", "b", "c", "d"] {
            let p = if subject == "b" { 0.3 } else { 0.9 };
            for frame in 0..3 {
                samples.push(sample(true, subject, &format!("{subject}/{frame}"), [p, p]));
            }
            samples.push(sample(false, subject, &format!("{subject}/attack"), [0.05, 0.05]));
        }
        let report = evaluate(&samples, 2, 0.0, &[]).expect("folds");
        assert_eq!(report.folds, [vec!["a".to_owned(), "c".to_owned()], vec!["b".to_owned(), "d".to_owned()]]);
        let mean = &report.families[0];
        // Fold 0 holds out a and c and chooses on b and d (lowest live 0.3); fold 1 chooses on a and c (0.9).
        assert_eq!(
            mean.rules,
            [LivenessRule::Mean { real_probability: 0.3 }, LivenessRule::Mean { real_probability: 0.9 }]
        );
        let frames = &mean.frames[0];
        assert_eq!((frames.bpcer.count, frames.bpcer.of, frames.apcer.count, frames.apcer.of), (3, 12, 0, 4));
        let sequences = &mean.sequences[0];
        assert_eq!((sequences.bpcer.count, sequences.bpcer.of), (3, 12), "one frame per sequence here");
        assert!(evaluate(&samples, 5, 0.0, &[]).is_err() && evaluate(&samples, 1, 0.0, &[]).is_err());
    }

    #[test]
    fn sequences_average_each_model_over_their_frames() {
        let mut a = sample(false, "s", "s/1", [0.1, 0.9]);
        a.probabilities.push(None);
        let mut b = sample(false, "s", "s/1", [0.3, 0.5]);
        b.probabilities.push(Some([0.2, 0.2]));
        let c = Sample { probabilities: vec![Some([0.9, 0.9]), None], ..sample(true, "s", "s/1", [0.0; 2]) };
        let merged = average_sequences(&[&a, &b, &c]);
        assert_eq!(merged.len(), 2, "live and attack frames of one name are different captures");
        let attack = merged.iter().find(|s| !s.live).expect("attack");
        let [v2, v1se] = attack.probabilities[0].expect("frames with faces");
        assert!((v2 - 0.2).abs() < 1e-6 && (v1se - 0.7).abs() < 1e-6);
        assert_eq!(attack.probabilities[1], Some([0.2, 0.2]), "frames without a face are left out");
        let live = merged.iter().find(|s| s.live).expect("live");
        assert_eq!(live.probabilities[1], None);
    }
}
