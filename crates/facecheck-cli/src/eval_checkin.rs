//! `facecheck eval checkin`: the error rates of the decision the product makes — a mean template of `k` enrollment
//! selfies against one check-in selfie at the shipped threshold — on an LFW-style folder, overall and per group.
//!
//! Every image of every identity with at least `k + 1` images goes once through the check-in pipeline
//! (decode, detect, quality gates, liveness, align, embed: [`Engine::screen_image`] then [`Engine::embed_face`]).
//! The results are then combined:
//! - **enrollment**: the identity's first `k` images, as [`facecheck::checkin::enroll`] takes them: each must pass
//!   the gates and liveness (else the enrollment fails with the first failing selfie's reason), and every two of
//!   them must match at the threshold (else `inconsistent`); the template is their normalised mean. With
//!   `retakes`, a rejected selfie is replaced by the identity's next image, as a driver asked to retake would;
//!   enrollment then fails only when fewer than `k` images pass (`too_few_usable_selfies`) or the set is
//!   inconsistent.
//! - **genuine check-ins**: every later image of the identity against its template: `no_face`/`poor_quality`
//!   (failure to acquire), `spoof_suspected`, or a comparison (a false non-match when the distance is not below
//!   the threshold).
//! - **impostor check-ins**: every image of every other identity against each template (all of them, no
//!   sampling); images the gates or liveness turn away compare nothing and are counted apart.

use crate::groups::{self, ImageLabels, Labels};
use crate::metrics::{self, Rate, ThresholdAtFmr};
use facecheck::{decode_image, Embedding, Engine, Error, Screening};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The false-match rates whose thresholds are reported.
pub const TARGET_FMRS: [f64; 2] = [1e-3, 1e-4];

/// What the check-in pipeline made of one image.
pub enum Acquired<E> {
    /// Passed the gates and liveness, and was embedded.
    Embedded(E),
    /// Turned away by a quality gate (the [`facecheck::QualityIssue::code`]).
    Retake(&'static str),
    /// Turned away by the liveness check.
    SpoofSuspected,
    /// Not a readable image.
    Unreadable,
}

/// One image of an identity: the pipeline's result and its labels.
pub struct Image<E> {
    /// The pipeline's result.
    pub acquired: Acquired<E>,
    /// Its demographic labels (all `None` without `--groups`).
    pub labels: ImageLabels,
}

/// An identity's images, in file-name order.
pub struct Person<E> {
    /// The images.
    pub images: Vec<Image<E>>,
}

/// Counts for one group (or for everyone).
#[derive(Default)]
struct Counts {
    images: usize,
    quality_reasons: BTreeMap<String, usize>,
    liveness_rejected: usize,
    enrollments: usize,
    enrollment_failures: BTreeMap<String, usize>,
    enrollment_retakes: usize,
    genuine: usize,
    genuine_fta: BTreeMap<String, usize>,
    genuine_spoof: usize,
    genuine_distances: Vec<f64>,
    impostor: usize,
    impostor_not_acquired: usize,
    impostor_distances: Vec<f64>,
}

/// The rates for one group (or for everyone): the JSON object of `overall` and of each group.
#[derive(Debug, serde::Serialize)]
pub struct Block {
    /// Enrollment attempts (one per identity with enough images).
    pub enrollments: usize,
    /// Enrollments that failed.
    pub enrollment_failure: Rate,
    /// Failed enrollments by reason: a quality code (`several_faces`, `no_face`, ...), `spoof_suspected`,
    /// `unreadable`, `inconsistent`, `too_few_usable_selfies`.
    pub enrollment_failure_reasons: BTreeMap<String, usize>,
    /// With retakes: enrollment selfies turned away and replaced by the next image.
    pub enrollment_retakes: usize,
    /// Genuine check-ins (held-out images of enrolled identities).
    pub genuine_checkins: usize,
    /// Genuine check-ins the quality gates turned away (`no_face`, `poor_quality`), of all genuine check-ins.
    pub failure_to_acquire: Rate,
    /// The failures to acquire by quality code.
    pub failure_to_acquire_reasons: BTreeMap<String, usize>,
    /// Genuine check-ins the liveness check called a spoof, of all genuine check-ins.
    pub spoof_suspected: Rate,
    /// False non-matches, of the genuine check-ins that were compared.
    pub fnmr: Rate,
    /// Genuine check-ins that did not end in `match` for any reason, of all genuine check-ins: what drivers
    /// experience.
    pub genuine_rejection: Rate,
    /// Impostor check-ins (another identity's image against a template).
    pub impostor_checkins: usize,
    /// Impostor check-ins that compared nothing (turned away by the gates or liveness).
    pub impostor_not_acquired: usize,
    /// False matches, of the impostor check-ins that were compared.
    pub fmr: Rate,
    /// The thresholds that would give FMR 1e-3 and 1e-4 on these comparisons, and their rates.
    pub thresholds_at_fmr: Vec<ThresholdAtFmr>,
    /// Images (each once) a quality gate turned away, of all images.
    pub quality_rejection: Rate,
    /// The quality rejections by the first failing gate's code (`unreadable` for undecodable files).
    pub quality_rejection_reasons: BTreeMap<String, usize>,
    /// Images the liveness check turned away, of the images that passed the gates.
    pub liveness_rejection: Rate,
}

impl Counts {
    fn block(&self, threshold: f64) -> Block {
        let fta: usize = self.genuine_fta.values().sum();
        let false_non_matches = self.genuine_distances.iter().filter(|&&d| d >= threshold).count();
        let quality_rejected: usize = self.quality_reasons.values().sum();
        Block {
            enrollments: self.enrollments,
            enrollment_failure: Rate::new(self.enrollment_failures.values().sum(), self.enrollments),
            enrollment_failure_reasons: self.enrollment_failures.clone(),
            enrollment_retakes: self.enrollment_retakes,
            genuine_checkins: self.genuine,
            failure_to_acquire: Rate::new(fta, self.genuine),
            failure_to_acquire_reasons: self.genuine_fta.clone(),
            spoof_suspected: Rate::new(self.genuine_spoof, self.genuine),
            fnmr: Rate::new(false_non_matches, self.genuine_distances.len()),
            genuine_rejection: Rate::new(fta + self.genuine_spoof + false_non_matches, self.genuine),
            impostor_checkins: self.impostor,
            impostor_not_acquired: self.impostor_not_acquired,
            fmr: Rate::new(
                self.impostor_distances.iter().filter(|&&d| d < threshold).count(),
                self.impostor_distances.len(),
            ),
            thresholds_at_fmr: TARGET_FMRS
                .iter()
                .filter_map(|&t| {
                    metrics::distance_threshold_at_fmr(&self.genuine_distances, &self.impostor_distances, t)
                })
                .collect(),
            quality_rejection: Rate::new(quality_rejected, self.images),
            quality_rejection_reasons: self.quality_reasons.clone(),
            liveness_rejection: Rate::new(self.liveness_rejected, self.images - quality_rejected),
        }
    }
}

/// Counts for everyone and per `(attribute, group)`.
struct Tally {
    overall: Counts,
    groups: BTreeMap<(usize, String), Counts>,
    labelled: bool,
}

impl Tally {
    /// Applies `f` to everyone's counts and to those of every group the comparison of `images` belongs to.
    fn record<'a>(&mut self, images: impl Iterator<Item = &'a ImageLabels> + Clone, mut f: impl FnMut(&mut Counts)) {
        f(&mut self.overall);
        if !self.labelled {
            return;
        }
        for attribute in 0..groups::ATTRIBUTES.len() {
            for group in groups::of_comparison(images.clone(), attribute) {
                f(self.groups.entry((attribute, group)).or_default());
            }
        }
    }
}

fn add(map: &mut BTreeMap<String, usize>, key: &str) {
    *map.entry(key.to_owned()).or_insert(0) += 1;
}

/// How enrollment and check-in decide.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Enrollment selfies.
    pub k: usize,
    /// Replace a rejected enrollment selfie by the next image.
    pub retakes: bool,
    /// Match when the distance is below this.
    pub threshold: f64,
}

/// The study's results, overall and per group (attribute → group → block).
pub struct Outcome {
    /// Everyone.
    pub overall: Block,
    /// Per attribute and group; empty without labels.
    pub groups: BTreeMap<String, BTreeMap<String, Block>>,
}

/// Combines the pipeline's results into enrollments, genuine and impostor check-ins (see the module docs).
/// `mean` makes a template, `distance` compares a template or an image with an image; match is
/// `distance < threshold`. Only people with at least `k + 1` images should be passed.
pub fn study<E, T>(
    people: &[Person<E>],
    rule: Rule,
    labelled: bool,
    mean: impl Fn(&[&E]) -> Option<T>,
    to_template: impl Fn(&T, &E) -> f64,
    between: impl Fn(&E, &E) -> f64,
) -> Outcome {
    let Rule { k, retakes, threshold } = rule;
    let mut tally = Tally { overall: Counts::default(), groups: BTreeMap::new(), labelled };
    for person in people {
        for image in &person.images {
            tally.record(std::iter::once(&image.labels), |c| {
                c.images += 1;
                match &image.acquired {
                    Acquired::Retake(code) => add(&mut c.quality_reasons, code),
                    Acquired::Unreadable => add(&mut c.quality_reasons, "unreadable"),
                    Acquired::SpoofSuspected => c.liveness_rejected += 1,
                    Acquired::Embedded(_) => {}
                }
            });
        }
    }
    // Enrollment: the images tried, the embeddings taken, and the failure reason.
    let mut templates: Vec<Option<(T, usize)>> = Vec::with_capacity(people.len());
    for person in people {
        let (tried, result) = enroll(&person.images, k, retakes, threshold, &between);
        let template = result.as_ref().ok().and_then(|taken| mean(taken));
        let reason = match (&result, &template) {
            (Err(reason), _) => Some(*reason),
            (Ok(_), None) => Some("inconsistent"), // a zero mean: opposite embeddings
            (Ok(_), Some(_)) => None,
        };
        let enrolled = &person.images[..tried];
        let retaken = match &result {
            Ok(taken) if retakes => tried - taken.len(),
            _ if retakes => enrolled.iter().filter(|i| !matches!(i.acquired, Acquired::Embedded(_))).count(),
            _ => 0,
        };
        tally.record(enrolled.iter().map(|i| &i.labels), |c| {
            c.enrollments += 1;
            c.enrollment_retakes += retaken;
            if let Some(reason) = reason {
                add(&mut c.enrollment_failures, reason);
            }
        });
        templates.push(template.map(|t| (t, tried)));
    }
    for (i, (person, template)) in people.iter().zip(&templates).enumerate() {
        let Some((template, tried)) = template else { continue };
        let enrolled = &person.images[..*tried];
        fn with<'a, E>(enrolled: &'a [Image<E>], probe: &'a Image<E>) -> impl Iterator<Item = &'a ImageLabels> + Clone {
            enrolled.iter().map(|i| &i.labels).chain(std::iter::once(&probe.labels))
        }
        for probe in &person.images[*tried..] {
            tally.record(with(enrolled, probe), |c| {
                c.genuine += 1;
                match &probe.acquired {
                    Acquired::Embedded(e) => c.genuine_distances.push(to_template(template, e)),
                    Acquired::Retake(code) => add(&mut c.genuine_fta, code),
                    Acquired::Unreadable => add(&mut c.genuine_fta, "unreadable"),
                    Acquired::SpoofSuspected => c.genuine_spoof += 1,
                }
            });
        }
        for (_, other) in people.iter().enumerate().filter(|(j, _)| *j != i) {
            for probe in &other.images {
                let distance = match &probe.acquired {
                    Acquired::Embedded(e) => Some(to_template(template, e)),
                    _ => None,
                };
                tally.record(with(enrolled, probe), |c| {
                    c.impostor += 1;
                    match distance {
                        Some(d) => c.impostor_distances.push(d),
                        None => c.impostor_not_acquired += 1,
                    }
                });
            }
        }
    }
    let mut groups: BTreeMap<String, BTreeMap<String, Block>> = BTreeMap::new();
    for ((attribute, group), counts) in &tally.groups {
        groups
            .entry(groups::ATTRIBUTES[*attribute].to_owned())
            .or_default()
            .insert(group.clone(), counts.block(threshold));
    }
    Outcome { overall: tally.overall.block(threshold), groups }
}

/// The enrollment rule of [`facecheck::checkin::enroll`] on precomputed results: how many of the images were
/// tried, and the embeddings taken or the reason the enrollment fails.
fn enroll<E>(
    images: &[Image<E>],
    k: usize,
    retakes: bool,
    threshold: f64,
    between: impl Fn(&E, &E) -> f64,
) -> (usize, Result<Vec<&E>, &'static str>) {
    let mut taken = Vec::with_capacity(k);
    let mut tried = 0;
    for image in images {
        if taken.len() == k || (!retakes && tried == k) {
            break;
        }
        tried += 1;
        let reason = match &image.acquired {
            Acquired::Embedded(e) => {
                taken.push(e);
                continue;
            }
            Acquired::Retake(code) => code,
            Acquired::SpoofSuspected => "spoof_suspected",
            Acquired::Unreadable => "unreadable",
        };
        if !retakes {
            return (k.min(images.len()), Err(reason));
        }
    }
    if taken.len() < k {
        return (tried, Err("too_few_usable_selfies"));
    }
    for (i, a) in taken.iter().enumerate() {
        // Written so that a NaN distance fails, as in the core.
        if !taken[i + 1..].iter().all(|b| between(a, b) < threshold) {
            return (tried, Err("inconsistent"));
        }
    }
    (tried, Ok(taken))
}

/// The results of `facecheck eval checkin` (the `--json` object).
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// Enrollment selfies per identity.
    pub enroll: usize,
    /// Whether a rejected enrollment selfie was replaced by the next image (`--retakes`).
    pub retakes: bool,
    /// The shipped decision threshold: match when the distance to the mean template is below it.
    pub threshold: f64,
    /// The check-in policy id the decisions were taken under.
    pub policy: String,
    /// Identities in the folder.
    pub identities: usize,
    /// Identities with at least `enroll + 1` images: the ones studied.
    pub identities_studied: usize,
    /// Images of the studied identities, each run once through the pipeline.
    pub images: usize,
    /// How impostor check-ins were chosen: `all` (every image of every other studied identity, against each
    /// template).
    pub impostor_probes: &'static str,
    /// Everyone.
    pub overall: Block,
    /// Per attribute (`gender`, `race`) and group (`female`, ..., `mixed`, `unlabelled`); only with `--groups`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, BTreeMap<String, Block>>,
    /// Mean milliseconds per image (decode, detect, gates, liveness, align, embed).
    pub ms_per_image_mean: f64,
    /// Median milliseconds per image.
    pub ms_per_image_median: f64,
}

/// The identities of an LFW-style folder (`<Person>/<image>.jpg|png`), each with its image files in name order (also
/// the attempt folders of `eval active`, `<attempt>/<frame>.jpg|png`).
pub fn identities(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, String> {
    let list = |d: &Path| -> Result<Vec<PathBuf>, String> {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(d).map_err(|e| format!("cannot list {}: {e}", d.display()))? {
            paths.push(entry.map_err(|e| format!("cannot list {}: {e}", d.display()))?.path());
        }
        paths.sort();
        Ok(paths)
    };
    let mut people = Vec::new();
    for folder in list(dir)?.into_iter().filter(|p| p.is_dir()) {
        let images: Vec<PathBuf> = list(&folder)?
            .into_iter()
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        people.push((name, images));
    }
    Ok(people)
}

/// Runs one image through the check-in pipeline.
fn acquire(engine: &Engine, path: &Path) -> Result<Acquired<Embedding>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let Ok(image) = decode_image(&bytes) else { return Ok(Acquired::Unreadable) };
    let fail = |e: Error| format!("{}: {e}", path.display());
    Ok(match engine.screen_image(&image).map_err(fail)? {
        Screening::Retake(issue) => Acquired::Retake(issue.code()),
        Screening::SpoofSuspected { .. } => Acquired::SpoofSuspected,
        Screening::Passed { face, .. } => match engine.embed_face(&image, &face) {
            Ok(e) => Acquired::Embedded(e),
            Err(Error::NoFace) => Acquired::Retake(facecheck::QualityIssue::NoFace.code()),
            Err(e) => return Err(fail(e)),
        },
    })
}

/// `facecheck eval checkin`: runs the pipeline once per image (on every core), then the study.
pub fn evaluate(
    engine: &Engine,
    dir: &Path,
    k: usize,
    retakes: bool,
    labels: Option<&Labels>,
) -> Result<Report, String> {
    let range = facecheck::checkin::MIN_ENROLLMENT_SELFIES..=facecheck::checkin::MAX_ENROLLMENT_SELFIES;
    if !range.contains(&k) {
        return Err(format!("--enroll must be from {} to {}, as the product takes", range.start(), range.end()));
    }
    let all = identities(dir)?;
    let studied: Vec<&(String, Vec<PathBuf>)> = all.iter().filter(|(_, images)| images.len() > k).collect();
    if studied.len() < 2 {
        return Err(format!("{} has fewer than two identities with {} or more images", dir.display(), k + 1));
    }
    let jobs: Vec<&Path> = studied.iter().flat_map(|(_, images)| images.iter().map(PathBuf::as_path)).collect();
    let results = crate::parallel::map(&jobs, "check-in pipeline", |path| {
        let start = Instant::now();
        let acquired = acquire(engine, path)?;
        Ok((acquired, start.elapsed().as_secs_f64() * 1000.0))
    })?;
    let mut results = results.into_iter();
    let mut ms = Vec::with_capacity(jobs.len());
    let people: Vec<Person<Embedding>> = studied
        .iter()
        .map(|(name, paths)| Person {
            images: paths
                .iter()
                .map(|path| {
                    let (acquired, took) = results.next().expect("one result per image");
                    ms.push(took);
                    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let labels = labels.map_or([None, None], |l| l.image(name, &file));
                    Image { acquired, labels }
                })
                .collect(),
        })
        .collect();
    let threshold = f64::from(engine.threshold());
    let outcome = study(
        &people,
        Rule { k, retakes, threshold },
        labels.is_some(),
        |embeddings: &[&Embedding]| Embedding::mean(&embeddings.iter().map(|e| (*e).clone()).collect::<Vec<_>>()),
        |template: &Embedding, e: &Embedding| f64::from(template.distance(e)),
        |a: &Embedding, b: &Embedding| f64::from(a.distance(b)),
    );
    Ok(Report {
        enroll: k,
        retakes,
        threshold,
        policy: facecheck::checkin::policy_id(),
        identities: all.len(),
        identities_studied: studied.len(),
        images: jobs.len(),
        impostor_probes: "all",
        overall: outcome.overall,
        groups: outcome.groups,
        ms_per_image_mean: metrics::mean_std(&ms).0,
        ms_per_image_median: metrics::median(&ms),
    })
}

/// `facecheck eval checkin`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Folder holding `<Person>/<image>.jpg` (the LFW layout); identities with at least `--enroll` + 1 images are
    /// studied.
    #[arg(long)]
    pub images: PathBuf,
    /// Enrollment selfies per identity (3 to 5, as the product takes).
    #[arg(long, default_value_t = 3)]
    pub enroll: usize,
    /// Replace an enrollment selfie the gates or liveness turn away by the identity's next image, as a driver asked
    /// to retake would (the default is one enrollment attempt with the first images).
    #[arg(long)]
    pub retakes: bool,
    /// Folder of demographic labels (`female_names.txt`, `male_names.txt`, optional `lfw_race_dict.json`): report
    /// every rate per group too.
    #[arg(long)]
    pub groups: Option<PathBuf>,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write FNMR and FMR per group with their 95 % intervals as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Runs `facecheck eval checkin`.
pub fn command(models: &Path, args: Args) -> Result<(), String> {
    let labels = args.groups.as_deref().map(Labels::load).transpose()?;
    let engine = crate::load_engine(models)?;
    let report = evaluate(&engine, &args.images, args.enroll, args.retakes, labels.as_ref())?;
    if let Some(out) = &args.plot {
        crate::fairness_plot::draw(&plot_rows(&report))
            .save(out)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
    } else {
        print(&report);
    }
    Ok(())
}

/// The plot's rows: everyone, then every labelled group (not `unlabelled`).
pub fn plot_rows(report: &Report) -> Vec<crate::fairness_plot::Row> {
    let row = |label: String, b: &Block| crate::fairness_plot::Row { label, fnmr: b.fnmr, fmr: b.fmr };
    let mut rows = vec![row("everyone".into(), &report.overall)];
    for (attribute, groups) in &report.groups {
        for (group, block) in groups.iter().filter(|(g, _)| *g != groups::UNLABELLED) {
            rows.push(row(format!("{attribute} {group}"), block));
        }
    }
    rows
}

fn rate(r: &Rate) -> String {
    format!("{:.2} % ({}/{}, {:.2}–{:.2})", 100.0 * r.rate, r.count, r.of, 100.0 * r.ci95[0], 100.0 * r.ci95[1])
}

/// Prints the report for people.
pub fn print(report: &Report) {
    println!(
        "{} identities with {}+ images of {} ({} images); enrollment of {} selfies{}; threshold {:.4} ({})",
        report.identities_studied,
        report.enroll + 1,
        report.identities,
        report.images,
        report.enroll,
        if report.retakes { " with retakes" } else { "" },
        report.threshold,
        report.policy
    );
    let print_block = |name: &str, b: &Block| {
        println!("{name}:");
        println!("  enrollment failures  {}  {:?}", rate(&b.enrollment_failure), b.enrollment_failure_reasons);
        println!("  FNMR                 {}", rate(&b.fnmr));
        println!("  FMR                  {}", rate(&b.fmr));
        println!("  failure to acquire   {}  {:?}", rate(&b.failure_to_acquire), b.failure_to_acquire_reasons);
        println!("  spoof suspected      {}", rate(&b.spoof_suspected));
        println!("  genuine rejected     {}", rate(&b.genuine_rejection));
        println!("  quality rejection    {}  (images)", rate(&b.quality_rejection));
        for t in &b.thresholds_at_fmr {
            println!(
                "  FMR {:e}: distance < {:.4} (FNMR {}){}",
                t.target_fmr,
                t.distance,
                rate(&t.fnmr),
                if t.supported { "" } else { " — too few impostor check-ins to support it" }
            );
        }
    };
    print_block("everyone", &report.overall);
    for (attribute, groups) in &report.groups {
        for (group, block) in groups {
            print_block(&format!("{attribute} {group}"), block);
        }
    }
    println!("ms per image: mean {:.1}, median {:.1}", report.ms_per_image_mean, report.ms_per_image_median);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A 1-D "embedding": distance is the absolute difference, the template the plain mean.
    fn image(acquired: Acquired<f64>, gender: Option<&str>) -> Image<f64> {
        Image { acquired, labels: [gender.map(|g| BTreeSet::from([g.to_owned()])), None] }
    }

    fn run(people: &[Person<f64>], retakes: bool) -> Outcome {
        study(
            people,
            Rule { k: 3, retakes, threshold: 0.5 },
            true,
            |v: &[&f64]| Some(v.iter().copied().sum::<f64>() / v.len() as f64),
            |t: &f64, e: &f64| (t - e).abs(),
            |a: &f64, b: &f64| (a - b).abs(),
        )
    }

    fn e(v: f64) -> Acquired<f64> {
        Acquired::Embedded(v)
    }

    fn people() -> Vec<Person<f64>> {
        let f = Some("female");
        let m = Some("male");
        vec![
            // Enrolls at 0.0; genuine 0.1 (match), 0.7 (false non-match), a too-dark photo, a spoof.
            Person {
                images: vec![
                    image(e(0.0), f),
                    image(e(0.1), f),
                    image(e(-0.1), f),
                    image(e(0.1), f),
                    image(e(0.7), f),
                    image(Acquired::Retake("too_dark"), f),
                    image(Acquired::SpoofSuspected, f),
                ],
            },
            // Enrolls at 10.0; genuine 10.2 (match). One image unlabelled.
            Person { images: vec![image(e(10.0), m), image(e(9.9), m), image(e(10.1), m), image(e(10.2), None)] },
            // Inconsistent: 20.0 and 20.6 do not match.
            Person { images: vec![image(e(20.0), m), image(e(20.6), m), image(e(20.3), m), image(e(20.3), m)] },
            // Second selfie turned away; with retakes the fourth replaces it and the fifth is the probe (0.45:
            // matches the template at 0.0 of the first person, a false match).
            Person {
                images: vec![
                    image(e(0.3), m),
                    image(Acquired::Retake("several_faces"), m),
                    image(e(0.4), m),
                    image(e(0.5), m),
                    image(e(0.45), m),
                ],
            },
        ]
    }

    #[test]
    fn strict_enrollment_counts_genuine_impostor_and_failures() {
        let out = run(&people(), false);
        let o = &out.overall;
        assert_eq!(o.enrollments, 4);
        assert_eq!(o.enrollment_failure, Rate::new(2, 4));
        assert_eq!(
            o.enrollment_failure_reasons,
            BTreeMap::from([("inconsistent".into(), 1), ("several_faces".into(), 1)])
        );
        // Genuine: 4 probes of person 1 and 1 of person 2.
        assert_eq!(o.genuine_checkins, 5);
        assert_eq!(o.failure_to_acquire, Rate::new(1, 5));
        assert_eq!(o.failure_to_acquire_reasons, BTreeMap::from([("too_dark".into(), 1)]));
        assert_eq!(o.spoof_suspected, Rate::new(1, 5));
        assert_eq!(o.fnmr, Rate::new(1, 3));
        assert_eq!(o.genuine_rejection, Rate::new(3, 5));
        // Impostors: template 1 against the 4 + 4 + 5 images of the others, template 2 against 7 + 4 + 5.
        assert_eq!(o.impostor_checkins, 13 + 16);
        assert_eq!(o.impostor_not_acquired, 1 + 3);
        // Template 1 (0.0) matches 0.3 and 0.4 and 0.45 of person 4 (below 0.5), not 0.5.
        assert_eq!(o.fmr, Rate::new(3, 25));
        assert_eq!(o.quality_rejection, Rate::new(2, 20));
        assert_eq!(o.liveness_rejection, Rate::new(1, 18));
    }

    #[test]
    fn per_group_counts_and_mixed_impostors() {
        let out = run(&people(), false);
        let gender = &out.groups["gender"];
        let (female, male, mixed) = (&gender["female"], &gender["male"], &gender["mixed"]);
        assert_eq!((female.enrollments, female.enrollment_failure.count), (1, 0));
        assert_eq!((male.enrollments, male.enrollment_failure.count), (3, 2));
        assert_eq!(female.genuine_checkins, 4);
        assert_eq!(female.fnmr, Rate::new(1, 2));
        assert_eq!(male.genuine_checkins, 0, "person 2's probe is unlabelled");
        assert_eq!(gender["unlabelled"].genuine_checkins, 1);
        // Male template 2 against male images of persons 3 and 4; female template against male images: mixed.
        assert_eq!(male.impostor_checkins, 4 + 5);
        assert_eq!(mixed.impostor_checkins, 7 + 3 + 4 + 5, "template 1 against 3 + 4 + 5 male images");
        assert_eq!(gender["unlabelled"].impostor_checkins, 1);
        // Compared mixed: template 1 against 3 + 4 + 4 male images, template 2 against 5 female ones.
        assert_eq!(mixed.fmr, Rate::new(3, 16));
        assert_eq!(male.fmr.count, 0);
        assert_eq!(female.quality_rejection, Rate::new(1, 7));
        assert_eq!(male.quality_rejection, Rate::new(1, 12));
        assert_eq!(out.groups["race"].keys().collect::<Vec<_>>(), ["unlabelled"]);
    }

    #[test]
    fn retakes_replace_rejected_selfies() {
        let out = run(&people(), true);
        let o = &out.overall;
        assert_eq!(o.enrollment_failure, Rate::new(1, 4), "person 4 enrolls from images 1, 3 and 4");
        assert_eq!(o.enrollment_retakes, 1);
        assert_eq!(o.genuine_checkins, 4 + 1 + 1);
        // Person 4's template is 0.4; its probe 0.45 matches.
        assert_eq!(o.fnmr, Rate::new(1, 4));
        let mut few = people();
        few[3].images[3].acquired = Acquired::SpoofSuspected;
        few[3].images[4].acquired = Acquired::Retake("blurry");
        let out = run(&few, true);
        assert_eq!(out.overall.enrollment_failure_reasons["too_few_usable_selfies"], 1);
        assert_eq!(out.overall.enrollment_retakes, 3);
        assert_eq!(out.overall.genuine_checkins, 4 + 1, "person 4 has no template and no probe left");
    }

    #[test]
    fn thresholds_for_a_false_match_rate_come_from_the_impostor_distances() {
        let out = run(&people(), false);
        let t = &out.overall.thresholds_at_fmr;
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].fmr.of, 25);
        assert!(!t[0].supported && t[0].fmr.count == 0, "25 impostors cannot support 1e-3");
        // The smallest impostor distance is 0.3 (template 0.0 against 0.3): the threshold sits just below it.
        assert!(t[0].distance < 0.3 && t[0].distance > 0.299, "{}", t[0].distance);
    }
}
