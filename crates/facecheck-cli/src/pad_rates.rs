//! What the PAD evaluations count: one scored photo ([`Sample`]), the APCER and BPCER of a rule on a set of them
//! under one condition ([`Rates`]), and their one-line form. `pad.rs` scores the photos and reports; `pad_folds.rs`
//! pools the rates of held-out subjects; both count with this file.

use crate::metrics::Rate;
use facecheck::edits::Edit;
use facecheck::LivenessRule;

/// One photo of an evaluation set: live or attack, whose, of which sequence, and the two models' real-probabilities
/// `[MiniFASNetV2, MiniFASNetV1SE]` for its largest face, unedited (`[0]`) and after each edit (`None`: no usable
/// face).
pub struct Sample {
    /// A bona fide presentation.
    pub live: bool,
    /// The first folder level under the set's root (`""` for a photo directly in it).
    pub subject: String,
    /// The frames of one capture: the photo's folder and its file name up to the last `_` (NUAA's
    /// `<subject>_<glasses>_<place>_<session>_<frame>.jpg`).
    pub sequence: String,
    /// Per condition: unedited, then the edits in order.
    pub probabilities: Vec<Option<[f32; 2]>>,
}

/// APCER and BPCER of `rule` on the samples' probabilities under one condition (0: unedited), and the photos of
/// each kind with no usable face there, which are left out of the rates (ISO/IEC 30107-3 reports failures to
/// acquire apart).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rates {
    /// `none` or the edit's name.
    pub condition: String,
    /// Attacks accepted as live.
    pub apcer: Rate,
    /// Live faces rejected.
    pub bpcer: Rate,
    /// Live photos with no usable face.
    pub no_face_live: usize,
    /// Attack photos with no usable face.
    pub no_face_spoof: usize,
}

impl Rates {
    /// The rates of `rule` on `samples` under condition `index` (`0` is unedited; `i` is `edits[i - 1]`).
    pub fn of<'a>(
        rule: LivenessRule,
        samples: impl IntoIterator<Item = &'a Sample>,
        index: usize,
        edits: &[Edit],
    ) -> Rates {
        let mut counts = [[0usize; 3]; 2]; // [live, spoof] x [wrong, scored, no face]
        for s in samples {
            let c = &mut counts[usize::from(!s.live)];
            match s.probabilities[index] {
                Some([v2, v1se]) => {
                    c[1] += 1;
                    c[0] += usize::from(rule.is_live(v2, v1se) != s.live);
                }
                None => c[2] += 1,
            }
        }
        Rates {
            condition: condition_name(index, edits),
            apcer: Rate::new(counts[1][0], counts[1][1]),
            bpcer: Rate::new(counts[0][0], counts[0][1]),
            no_face_live: counts[0][2],
            no_face_spoof: counts[1][2],
        }
    }
}

/// `none` for condition 0, the edit's name otherwise.
pub fn condition_name(index: usize, edits: &[Edit]) -> String {
    index.checked_sub(1).and_then(|i| edits.get(i)).map_or_else(|| "none".to_owned(), Edit::name)
}

/// `12/225 = 5.33 % (3.07–9.09)`.
pub fn show(rate: &Rate) -> String {
    let pct = |v: f64| format!("{:.2}", 100.0 * v);
    format!("{}/{} = {} % ({}–{})", rate.count, rate.of, pct(rate.rate), pct(rate.ci95[0]), pct(rate.ci95[1]))
}

/// One line of a rates table.
pub fn rates_line(label: &str, r: &Rates) -> String {
    let no_face = if r.no_face_live + r.no_face_spoof > 0 {
        format!("  (no face: {} live, {} attack)", r.no_face_live, r.no_face_spoof)
    } else {
        String::new()
    };
    let line = format!("{label:<18} APCER {:<28} BPCER {:<28}{no_face}", show(&r.apcer), show(&r.bpcer));
    line.trim_end().to_owned()
}
