//! The liveness decision: how the two MiniFASNet models' real-probabilities become "live" or "spoof suspected".
//!
//! The rule and its thresholds are data, recorded in `models/manifest.json` (`liveness.liveness_threshold`) with
//! what they were chosen for and on; `docs/liveness.md` says how the rules compare out of sample and under edits.
//! - [`LivenessRule::Mean`] averages the two probabilities: one confident model can outvote the other, which is how
//!   a printed photo that MiniFASNetV2 calls a spoof at 0.02 passed as live once its contrast was raised.
//! - [`LivenessRule::Both`] asks each model on its own: either one can reject the face.

/// How the two models' real-probabilities decide liveness. A probability that is not a number is never live.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LivenessRule {
    /// Live when the mean of the two real-probabilities is at least `real_probability`.
    Mean {
        /// The threshold on the mean.
        real_probability: f32,
    },
    /// Live when each model's real-probability is at least that model's threshold.
    Both {
        /// The threshold on MiniFASNetV2's (context 2.7) real-probability.
        minifasnet_v2: f32,
        /// The threshold on MiniFASNetV1SE's (context 4.0) real-probability.
        minifasnet_v1se: f32,
    },
}

impl LivenessRule {
    /// The decision on MiniFASNetV2's and MiniFASNetV1SE's real-probabilities for one face.
    pub fn is_live(&self, minifasnet_v2: f32, minifasnet_v1se: f32) -> bool {
        match *self {
            LivenessRule::Mean { real_probability } => (minifasnet_v2 + minifasnet_v1se) / 2.0 >= real_probability,
            LivenessRule::Both { minifasnet_v2: v2, minifasnet_v1se: v1se } => {
                minifasnet_v2 >= v2 && minifasnet_v1se >= v1se
            }
        }
    }

    /// The rule and its thresholds in a few characters, as the check-in policy id names them:
    /// `mean>=0.32` or `v2>=0.11&v1se>=0.25`.
    pub fn id(&self) -> String {
        match self {
            LivenessRule::Mean { real_probability } => format!("mean>={real_probability}"),
            LivenessRule::Both { minifasnet_v2, minifasnet_v1se } => {
                format!("v2>={minifasnet_v2}&v1se>={minifasnet_v1se}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_lets_one_model_outvote_the_other_and_both_does_not() {
        let mean = LivenessRule::Mean { real_probability: 0.3 };
        let both = LivenessRule::Both { minifasnet_v2: 0.3, minifasnet_v1se: 0.3 };
        // A print MiniFASNetV2 is sure of and MiniFASNetV1SE is fooled by.
        assert!(mean.is_live(0.02, 0.9));
        assert!(!both.is_live(0.02, 0.9));
        assert!(!both.is_live(0.9, 0.02));
        assert!(both.is_live(0.3, 0.3), "a probability equal to its threshold is live");
        assert!(!mean.is_live(0.2, 0.3));
        for rule in [mean, both] {
            assert!(rule.is_live(0.95, 0.95));
            assert!(!rule.is_live(f32::NAN, 0.95) && !rule.is_live(0.95, f32::NAN), "{rule:?}");
        }
    }

    #[test]
    fn each_model_has_its_own_threshold() {
        let rule = LivenessRule::Both { minifasnet_v2: 0.1, minifasnet_v1se: 0.5 };
        assert!(rule.is_live(0.1, 0.5));
        assert!(!rule.is_live(0.5, 0.1));
    }

    #[test]
    fn rules_read_from_the_manifest_form_and_name_themselves() {
        let mean: LivenessRule = serde_json::from_str(r#"{"mean": {"real_probability": 0.25}}"#).expect("mean");
        assert_eq!(mean, LivenessRule::Mean { real_probability: 0.25 });
        assert_eq!(mean.id(), "mean>=0.25");
        let both: LivenessRule =
            serde_json::from_str(r#"{"both": {"minifasnet_v2": 0.125, "minifasnet_v1se": 0.5}}"#).expect("both");
        assert_eq!(both, LivenessRule::Both { minifasnet_v2: 0.125, minifasnet_v1se: 0.5 });
        assert_eq!(both.id(), "v2>=0.125&v1se>=0.5");
        for bad in [
            r#"{"max": {"real_probability": 0.5}}"#,
            r#"{"both": {"minifasnet_v2": 0.5}}"#,
            r#"{"both": {"minifasnet_v2": 0.5, "minifasnet_v1se": 0.5, "mean": 0.5}}"#,
        ] {
            assert!(serde_json::from_str::<LivenessRule>(bad).is_err(), "{bad}");
        }
    }
}
