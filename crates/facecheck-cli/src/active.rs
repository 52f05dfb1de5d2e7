//! `facecheck liveness --challenge NONCE FRAME...` and `facecheck eval active`: the active head-turn check
//! ([`Engine::check_active`]) on one sequence of frames, and its error rates on folders of sequences.
//!
//! `eval active` takes one sub-folder per attempt (frames in the order of their file names) under `--live` and
//! `--attack`. Each attempt is checked against the challenge of its folder's name (`--challenge-from-dirname`), of
//! `--challenge`, or, with neither, against each of the six challenges in turn: an attack recorded in advance then
//! meets every challenge a nonce can give, each equally likely, so the share of those trials it passes is its
//! chance of passing a check-in. Rates are over trials (attempt x challenge), with 95 % Wilson intervals
//! (`metrics::Rate`), and attempts are also counted once: accepted under at least one challenge.

use crate::metrics::Rate;
use crate::pad_rates::show;
use facecheck::{ActiveChallenge, ActiveDecision, ActiveVerdict, Engine, Pose};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `facecheck eval active`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// Folder of live attempts: one sub-folder per attempt, frames in the order of their file names.
    #[arg(long)]
    live: PathBuf,
    /// Folder of attack attempts, laid out as --live.
    #[arg(long)]
    attack: PathBuf,
    /// The challenge of each attempt is the nonce its sub-folder is named after.
    #[arg(long, conflicts_with = "challenge")]
    challenge_from_dirname: bool,
    /// The nonce whose challenge every attempt is checked against (without it, and without
    /// --challenge-from-dirname, each attempt is checked against all six challenges).
    #[arg(long)]
    challenge: Option<String>,
    /// Print the results as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The codes of `poses`.
fn codes(poses: &[Pose]) -> Vec<&'static str> {
    poses.iter().map(|p| p.code()).collect()
}

/// The verdict as JSON: decision, reason, and per frame what was seen (no scores: the core gives none).
pub fn verdict_json(verdict: &ActiveVerdict, files: &[PathBuf]) -> serde_json::Value {
    let poses = verdict.challenge.poses();
    let frames: Vec<serde_json::Value> = verdict
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            serde_json::json!({
                "file": files.get(i).map(|p| p.display().to_string()),
                "sight": f.sight,
                "pose": f.pose.map(crate::pose_eval::class_code),
            })
        })
        .collect();
    let reached: Vec<serde_json::Value> = poses
        .iter()
        .zip(&verdict.reached)
        .map(|(pose, at)| serde_json::json!({ "pose": pose.code(), "frame": at.map(|i| i + 1) }))
        .collect();
    serde_json::json!({
        "poses": codes(poses),
        "decision": verdict.decision.code(),
        "reason": verdict.reason,
        "tracked_frames": verdict.tracked_frames(),
        "frontal_frame": verdict.frontal_frame.map(|i| i + 1),
        "reached": reached,
        "frames": frames,
    })
}

fn read_frames(files: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    files.iter().map(|p| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))).collect()
}

/// `facecheck liveness --challenge NONCE FRAME...`: prints the challenge's poses, the decision and the reason as
/// JSON. Frame numbers in the output count from 1.
pub fn liveness(engine: &Engine, nonce: &str, files: &[PathBuf]) -> Result<(), String> {
    let challenge = ActiveChallenge::from_nonce(nonce);
    let frames = read_frames(files)?;
    let verdict = engine.check_active(&challenge, &frames).map_err(|e| e.to_string())?;
    let mut json = verdict_json(&verdict, files);
    json["challenge"] = serde_json::Value::from(nonce);
    println!("{}", serde_json::to_string_pretty(&json).expect("serialisable"));
    Ok(())
}

/// The six challenges, in a fixed order.
pub fn all_challenges() -> Vec<ActiveChallenge> {
    let mut all = Vec::new();
    for a in Pose::ALL {
        for b in Pose::ALL {
            all.extend(ActiveChallenge::new([a, b]));
        }
    }
    all
}

/// The attempts under `dir`: its sub-folders, in name order, each with its frames in name order.
fn attempts(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, String> {
    let found = crate::eval_checkin::identities(dir)?;
    if found.is_empty() {
        return Err(format!("no attempt folders under {}", dir.display()));
    }
    Ok(found)
}

/// The counts of one set (live or attack).
#[derive(Debug, serde::Serialize)]
pub struct SetReport {
    /// Attempt folders.
    pub attempts: usize,
    /// Checks run (attempt x challenge).
    pub trials: usize,
    /// Trials decided `live`.
    pub accepted: Rate,
    /// Trials decided otherwise.
    pub rejected: Rate,
    /// Trials by decision code.
    pub decisions: BTreeMap<&'static str, usize>,
    /// Attempts decided `live` under at least one of their challenges.
    pub attempts_accepted: Rate,
    /// Attempts whose frames could not all be read or decoded (or were too many): not counted as trials.
    pub errors: usize,
}

/// The results of `facecheck eval active` (the `--json` object).
#[derive(Debug, serde::Serialize)]
pub struct EvalReport {
    /// `dirname`, `nonce` or `all_six`.
    pub challenges: &'static str,
    /// Live attempts: BPCER is `live.rejected`.
    pub live: SetReport,
    /// Attack attempts: APCER is `attack.accepted`.
    pub attack: SetReport,
    /// `live.rejected`, for convenience.
    pub bpcer: Rate,
    /// `attack.accepted`.
    pub apcer: Rate,
}

fn evaluate_set(engine: &Engine, dir: &Path, args: &EvalArgs, label: &'static str) -> Result<SetReport, String> {
    let attempts = attempts(dir)?;
    let bar = crate::parallel::progress(attempts.len(), label);
    let (mut trials, mut accepted, mut attempts_accepted, mut errors) = (0, 0, 0, 0);
    let mut decisions: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (name, files) in &attempts {
        let challenges = if args.challenge_from_dirname {
            vec![ActiveChallenge::from_nonce(name)]
        } else if let Some(nonce) = &args.challenge {
            vec![ActiveChallenge::from_nonce(nonce)]
        } else {
            all_challenges()
        };
        let frames = read_frames(files)?;
        let mut any = false;
        for challenge in &challenges {
            match engine.check_active(challenge, &frames) {
                Ok(verdict) => {
                    trials += 1;
                    *decisions.entry(verdict.decision.code()).or_insert(0) += 1;
                    if verdict.decision == ActiveDecision::Live {
                        accepted += 1;
                        any = true;
                    }
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("{}: {e}", output_path(dir, name)));
                    errors += 1;
                    break;
                }
            }
        }
        attempts_accepted += usize::from(any);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(SetReport {
        attempts: attempts.len(),
        trials,
        accepted: Rate::new(accepted, trials),
        rejected: Rate::new(trials - accepted, trials),
        decisions,
        attempts_accepted: Rate::new(attempts_accepted, attempts.len() - errors),
        errors,
    })
}

fn output_path(dir: &Path, name: &str) -> String {
    crate::output::escaped(&dir.join(name).display().to_string())
}

/// `facecheck eval active`.
pub fn evaluate(engine: &Engine, args: &EvalArgs) -> Result<(), String> {
    let live = evaluate_set(engine, &args.live, args, "live attempts")?;
    let attack = evaluate_set(engine, &args.attack, args, "attack attempts")?;
    let challenges = if args.challenge_from_dirname {
        "dirname"
    } else if args.challenge.is_some() {
        "nonce"
    } else {
        "all_six"
    };
    let report = EvalReport { challenges, bpcer: live.rejected, apcer: attack.accepted, live, attack };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
        return Ok(());
    }
    println!("challenges: {challenges}");
    for (label, set) in [("live", &report.live), ("attack", &report.attack)] {
        println!(
            "{label}: {} attempts, {} trials{}; decisions {:?}",
            set.attempts,
            set.trials,
            if set.errors > 0 { format!(" ({} unreadable attempts)", set.errors) } else { String::new() },
            set.decisions
        );
        println!("  attempts accepted under some challenge: {}", show(&set.attempts_accepted));
    }
    println!("BPCER (live trials rejected):  {}", show(&report.bpcer));
    println!("APCER (attack trials accepted): {}", show(&report.apcer));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_challenges() {
        let all = all_challenges();
        assert_eq!(all.len(), 6);
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| b != a));
        }
    }
}
