//! Verification metrics over scored pairs: best-accuracy threshold, ROC, AUC, rates at fixed error rates.
//!
//! Scores are "higher means more alike": callers pass the negated distance for faces, the liveness probability
//! for presentation-attack detection.

/// A scored trial and whether it is a genuine one (same person, or a live face).
#[derive(Debug, Clone, Copy)]
pub struct Trial {
    /// Higher is more alike / more live.
    pub score: f64,
    /// Ground truth.
    pub genuine: bool,
}

/// Fraction of trials decided correctly by "genuine when score >= threshold".
pub fn accuracy(trials: &[Trial], threshold: f64) -> f64 {
    let right = trials.iter().filter(|t| (t.score >= threshold) == t.genuine).count();
    right as f64 / trials.len().max(1) as f64
}

/// The threshold with the best accuracy on `trials`: the midpoint between consecutive distinct scores.
pub fn best_accuracy_threshold(trials: &[Trial]) -> f64 {
    let mut scores: Vec<f64> = trials.iter().map(|t| t.score).filter(|s| s.is_finite()).collect();
    scores.sort_by(f64::total_cmp);
    scores.dedup();
    let mut candidates = vec![f64::NEG_INFINITY];
    candidates.extend(scores.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    candidates.push(f64::INFINITY);
    // Ties go to the first (lowest) threshold: deterministic.
    candidates
        .into_iter()
        .fold((f64::NEG_INFINITY, -1.0), |best, t| {
            let a = accuracy(trials, t);
            if a > best.1 {
                (t, a)
            } else {
                best
            }
        })
        .0
}

/// `(false accept rate, true accept rate)` points of the ROC, from the strictest threshold to the loosest.
pub fn roc(trials: &[Trial]) -> Vec<(f64, f64)> {
    let mut sorted = trials.to_vec();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let positives = sorted.iter().filter(|t| t.genuine).count().max(1) as f64;
    let negatives = sorted.iter().filter(|t| !t.genuine).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    for (i, t) in sorted.iter().enumerate() {
        if t.genuine {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let tie_follows = sorted.get(i + 1).is_some_and(|n| n.score == t.score);
        if !tie_follows {
            points.push((fp / negatives, tp / positives));
        }
    }
    points
}

/// Area under the ROC curve (trapezoids; ties count half).
pub fn auc(trials: &[Trial]) -> f64 {
    roc(trials).windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum()
}

/// True accept rate at the loosest threshold whose false accept rate is at most `far`.
pub fn tar_at_far(trials: &[Trial], far: f64) -> f64 {
    roc(trials).iter().filter(|(f, _)| *f <= far + 1e-12).map(|(_, t)| *t).fold(0.0, f64::max)
}

/// The strictest-but-one score threshold ("genuine when score >= threshold") that lets at most `far` of the
/// impostor trials through: halfway between the impostor scores on either side of the allowed count.
pub fn threshold_at_far(trials: &[Trial], far: f64) -> f64 {
    let mut impostors: Vec<f64> = trials.iter().filter(|t| !t.genuine).map(|t| t.score).collect();
    impostors.sort_by(|a, b| b.total_cmp(a));
    let allowed = (far * impostors.len() as f64).floor() as usize;
    match (allowed.checked_sub(1).and_then(|i| impostors.get(i)), impostors.get(allowed)) {
        (Some(&accepted), Some(&rejected)) => (accepted + rejected) / 2.0,
        (None, Some(&rejected)) => rejected + 1e-6,
        _ => f64::NEG_INFINITY,
    }
}

/// The loosest-but-one score threshold ("genuine when score >= threshold") that rejects at most `frr` of the
/// genuine trials: halfway between the genuine scores on either side of the allowed count; the lowest genuine score
/// when none may be rejected.
pub fn threshold_at_frr(trials: &[Trial], frr: f64) -> f64 {
    let mut genuine: Vec<f64> = trials.iter().filter(|t| t.genuine).map(|t| t.score).collect();
    genuine.sort_by(f64::total_cmp);
    let allowed = (frr * genuine.len() as f64 + 1e-9).floor() as usize;
    match (allowed.checked_sub(1).and_then(|i| genuine.get(i)), genuine.get(allowed)) {
        (Some(&rejected), Some(&accepted)) => (rejected + accepted) / 2.0,
        (None, Some(&accepted)) => accepted,
        _ => f64::INFINITY,
    }
}

/// Mean and population standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Median (of a copy); 0 for an empty list.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The 95 % two-sided normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval (95 %) for `count` successes out of `of` trials; `(0, 1)` when there are none.
pub fn wilson(count: usize, of: usize) -> (f64, f64) {
    if of == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z2) = (of as f64, count as f64 / of as f64, Z95 * Z95);
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // Exact ends for no events and all events (rounding would leave 1e-17 and 1 - 1e-16).
    let low = if count == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if count >= of { 1.0 } else { (centre + half).min(1.0) };
    (low, high)
}

/// An error rate with its counts and 95 % Wilson interval (the JSON shape of every rate the fairness reports give).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rate {
    /// Events (errors, failures, rejections).
    pub count: usize,
    /// Out of this many attempts.
    pub of: usize,
    /// `count / of` (0 when `of` is 0).
    pub rate: f64,
    /// 95 % Wilson interval `[low, high]`.
    pub ci95: [f64; 2],
}

impl Rate {
    /// `count` out of `of`.
    pub fn new(count: usize, of: usize) -> Rate {
        let (low, high) = wilson(count, of);
        Rate { count, of, rate: if of == 0 { 0.0 } else { count as f64 / of as f64 }, ci95: [low, high] }
    }
}

/// A distance threshold chosen on a set of comparisons for a false-match rate, and the rates it gives there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThresholdAtFmr {
    /// The false-match rate asked for.
    pub target_fmr: f64,
    /// Match when the distance is below this.
    pub distance: f64,
    /// The false-match rate it gives on these impostor comparisons.
    pub fmr: Rate,
    /// The false-non-match rate it gives on these genuine comparisons.
    pub fnmr: Rate,
    /// Whether there are at least `1 / target_fmr` impostor comparisons, so that the threshold rests on at least
    /// one false match; otherwise it is only "below every impostor distance seen".
    pub supported: bool,
}

/// The distance threshold ("match when distance < threshold") for `target_fmr` on these genuine and impostor
/// distances (as [`threshold_at_far`] chooses it), with the rates it gives; `None` without impostor distances.
pub fn distance_threshold_at_fmr(genuine: &[f64], impostor: &[f64], target_fmr: f64) -> Option<ThresholdAtFmr> {
    if impostor.is_empty() {
        return None;
    }
    let trials: Vec<Trial> = impostor.iter().map(|&d| Trial { score: -d, genuine: false }).collect();
    let distance = -threshold_at_far(&trials, target_fmr);
    Some(ThresholdAtFmr {
        target_fmr,
        distance,
        fmr: Rate::new(impostor.iter().filter(|&&d| d < distance).count(), impostor.len()),
        fnmr: Rate::new(genuine.iter().filter(|&&d| d >= distance).count(), genuine.len()),
        supported: impostor.len() as f64 * target_fmr >= 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trials(genuine: &[f64], impostor: &[f64]) -> Vec<Trial> {
        let g = genuine.iter().map(|&score| Trial { score, genuine: true });
        g.chain(impostor.iter().map(|&score| Trial { score, genuine: false })).collect()
    }

    #[test]
    fn separable_scores_give_perfect_metrics() {
        let t = trials(&[0.9, 0.8, 0.7], &[0.3, 0.2, 0.1]);
        assert_eq!(auc(&t), 1.0);
        let th = best_accuracy_threshold(&t);
        assert!(th > 0.3 && th < 0.7);
        assert_eq!(accuracy(&t, th), 1.0);
        assert_eq!(tar_at_far(&t, 0.0), 1.0);
    }

    #[test]
    fn interleaved_scores_give_known_metrics() {
        // Genuine 0.9, 0.5; impostor 0.7, 0.1: one of four genuine/impostor orderings is wrong.
        let t = trials(&[0.9, 0.5], &[0.7, 0.1]);
        assert!((auc(&t) - 0.75).abs() < 1e-12);
        assert_eq!(tar_at_far(&t, 0.0), 0.5);
        assert!((threshold_at_far(&t, 0.5) - 0.4).abs() < 1e-12, "one of two impostors may pass");
        assert!(threshold_at_far(&t, 0.0) > 0.7);
        assert_eq!(accuracy(&t, 0.8), 0.75);
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn the_threshold_for_a_false_reject_rate() {
        // Genuine 0.2, 0.6, 0.9, 0.95; impostors 0.1, 0.3, 0.7.
        let t = trials(&[0.9, 0.2, 0.95, 0.6], &[0.1, 0.7, 0.3]);
        let rejected = |threshold: f64| t.iter().filter(|t| t.genuine && t.score < threshold).count();
        assert_eq!(threshold_at_frr(&t, 0.0), 0.2);
        assert!((threshold_at_frr(&t, 0.25) - 0.4).abs() < 1e-12, "one of four genuine may be rejected");
        assert!((threshold_at_frr(&t, 0.3) - 0.4).abs() < 1e-12);
        assert!((threshold_at_frr(&t, 0.5) - 0.75).abs() < 1e-12);
        assert_eq!(threshold_at_frr(&t, 1.0), f64::INFINITY);
        for frr in [0.0, 0.25, 0.5] {
            assert!(rejected(threshold_at_frr(&t, frr)) as f64 / 4.0 <= frr);
        }
    }
    #[test]
    fn wilson_intervals_match_published_values() {
        // Newcombe, "Two-sided confidence intervals for the single proportion", Stat. Med. 17 (1998), table I.
        for (count, of, low, high) in
            [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]
        {
            let (l, h) = wilson(count, of);
            assert!((l - low).abs() < 5e-5 && (h - high).abs() < 5e-5, "{count}/{of}: {l} {h}");
        }
        let (l, h) = wilson(5, 10);
        assert!((l - 0.236_593).abs() < 1e-6 && (h - 0.763_407).abs() < 1e-6, "symmetric about one half");
        assert_eq!(wilson(0, 0), (0.0, 1.0), "no trials: no information");
        assert_eq!(wilson(10, 10).1, 1.0);
        let r = Rate::new(26, 500);
        assert_eq!((r.count, r.of, r.rate), (26, 500, 0.052));
        assert!(r.ci95[0] < 0.052 && 0.052 < r.ci95[1]);
    }

    #[test]
    fn distance_thresholds_for_a_false_match_rate() {
        let genuine = [0.1, 0.2, 0.3, 0.45];
        let impostor: Vec<f64> = (0..1000).map(|i| 0.4 + f64::from(i) / 1000.0).collect();
        // One impostor in a thousand may match: the threshold falls between the first and second smallest.
        let t = distance_threshold_at_fmr(&genuine, &impostor, 1e-3).expect("impostors");
        assert!((t.distance - 0.4005).abs() < 1e-9, "{}", t.distance);
        assert_eq!((t.fmr.count, t.fmr.of, t.fnmr.count, t.fnmr.of), (1, 1000, 1, 4));
        assert!(t.supported);
        let strict = distance_threshold_at_fmr(&genuine, &impostor, 1e-4).expect("impostors");
        assert!(strict.distance < 0.4 && strict.distance > 0.3999, "{}", strict.distance);
        assert_eq!((strict.fmr.count, strict.supported), (0, false));
        assert!(distance_threshold_at_fmr(&genuine, &[], 1e-3).is_none());
    }
}
