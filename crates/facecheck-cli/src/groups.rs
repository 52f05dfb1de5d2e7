//! Demographic labels for LFW (`--groups DIR`), and which group a comparison belongs to.
//!
//! The folder holds `female_names.txt` and `male_names.txt` (one LFW file name per line, per image; a name in both
//! lists counts as female, a line without `.jpg` gets it) and, optionally, `lfw_race_dict.json`
//! (`{"Identity_Name": "label[,label...]"}`, per identity). A comparison belongs to a group when every image in it
//! carries that label: for race, whose labels may list several values, to every value all its images share. A
//! comparison whose images are labelled but share no value is `mixed` (impostors across groups); one with an
//! unlabelled image is `unlabelled`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The attributes, in report order.
pub const ATTRIBUTES: [&str; 2] = ["gender", "race"];
/// The group of a comparison across groups.
pub const MIXED: &str = "mixed";
/// The group of a comparison with an unlabelled image.
pub const UNLABELLED: &str = "unlabelled";

/// One image's labels, per attribute (in [`ATTRIBUTES`] order); `None` where it has none.
pub type ImageLabels = [Option<BTreeSet<String>>; 2];

/// The label files of a `--groups` folder.
#[derive(Debug, Default)]
pub struct Labels {
    /// Gender by image file name (`Name_0001.jpg`).
    gender: BTreeMap<String, String>,
    /// Race/ethnicity values by identity.
    race: BTreeMap<String, BTreeSet<String>>,
}

impl Labels {
    /// Reads the label files of `dir` (the race file is optional).
    pub fn load(dir: &Path) -> Result<Labels, String> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let race_path = dir.join("lfw_race_dict.json");
        let race = if race_path.exists() { Some(read("lfw_race_dict.json")?) } else { None };
        Labels::parse(&read("female_names.txt")?, &read("male_names.txt")?, race.as_deref())
    }

    /// Parses the two gender lists and the race dictionary.
    pub fn parse(female: &str, male: &str, race: Option<&str>) -> Result<Labels, String> {
        let mut labels = Labels::default();
        // Male first, so that an image in both lists ends up female.
        for (text, label) in [(male, "male"), (female, "female")] {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let name =
                    if line.to_ascii_lowercase().ends_with(".jpg") { line.to_owned() } else { format!("{line}.jpg") };
                labels.gender.insert(name, label.to_owned());
            }
        }
        if let Some(race) = race {
            let dict: BTreeMap<String, String> =
                serde_json::from_str(race).map_err(|e| format!("lfw_race_dict.json: {e}"))?;
            for (identity, values) in dict {
                let set: BTreeSet<String> =
                    values.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
                if !set.is_empty() {
                    labels.race.insert(identity, set);
                }
            }
        }
        Ok(labels)
    }

    /// The labels of image `file_name` (e.g. `Angela_Merkel_0001.jpg`) of `identity`.
    pub fn image(&self, identity: &str, file_name: &str) -> ImageLabels {
        [self.gender.get(file_name).map(|g| BTreeSet::from([g.clone()])), self.race.get(identity).cloned()]
    }
}

/// The groups, for attribute number `attribute`, of a comparison of these images: the values all of them carry,
/// else [`MIXED`] (all labelled, no value shared) or [`UNLABELLED`].
pub fn of_comparison<'a>(images: impl IntoIterator<Item = &'a ImageLabels>, attribute: usize) -> Vec<String> {
    let mut common: Option<BTreeSet<String>> = None;
    for labels in images {
        let Some(set) = &labels[attribute] else { return vec![UNLABELLED.to_owned()] };
        common = Some(match common {
            None => set.clone(),
            Some(c) => c.intersection(set).cloned().collect(),
        });
    }
    match common {
        Some(c) if !c.is_empty() => c.into_iter().collect(),
        Some(_) => vec![MIXED.to_owned()],
        None => vec![UNLABELLED.to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        let race = r#"{"Ann_A": "african", "Bob_B": "caucasian", "Cy_C": "latino,caucasian", "Dee_D": ""}"#;
        Labels::parse(
            "Ann_A_0001.jpg\nAnn_A_0002\nBob_B_0002.jpg\n",
            "Bob_B_0001.jpg\n\nBob_B_0002.jpg\nCy_C_0001.jpg\n",
            Some(race),
        )
        .expect("parses")
    }

    fn set(values: &[&str]) -> Option<BTreeSet<String>> {
        Some(values.iter().map(|v| (*v).to_owned()).collect())
    }

    #[test]
    fn labels_per_image_and_identity() {
        let l = labels();
        assert_eq!(l.image("Ann_A", "Ann_A_0001.jpg"), [set(&["female"]), set(&["african"])]);
        assert_eq!(l.image("Ann_A", "Ann_A_0002.jpg")[0], set(&["female"]), "a line without .jpg gets it");
        assert_eq!(l.image("Bob_B", "Bob_B_0002.jpg")[0], set(&["female"]), "in both lists: female");
        assert_eq!(l.image("Cy_C", "Cy_C_0001.jpg"), [set(&["male"]), set(&["caucasian", "latino"])]);
        assert_eq!(l.image("Cy_C", "Cy_C_0002.jpg"), [None, set(&["caucasian", "latino"])]);
        assert_eq!(l.image("Dee_D", "Dee_D_0001.jpg"), [None, None], "an empty race value is no label");
        assert!(Labels::parse("", "", Some("not json")).is_err());
    }

    #[test]
    fn comparisons_belong_to_the_groups_all_their_images_share() {
        let l = labels();
        let ann = l.image("Ann_A", "Ann_A_0001.jpg");
        let bob = l.image("Bob_B", "Bob_B_0001.jpg");
        let cy = l.image("Cy_C", "Cy_C_0001.jpg");
        let cy2 = l.image("Cy_C", "Cy_C_0002.jpg");
        assert_eq!(of_comparison([&ann, &ann], 0), ["female"]);
        assert_eq!(of_comparison([&ann, &bob], 0), [MIXED]);
        assert_eq!(of_comparison([&ann, &bob], 1), [MIXED]);
        assert_eq!(of_comparison([&bob, &cy, &cy], 0), ["male"]);
        assert_eq!(of_comparison([&bob, &cy], 1), ["caucasian"], "the shared value of a multi-valued label");
        assert_eq!(of_comparison([&cy, &cy2], 1), ["caucasian", "latino"], "every shared value");
        assert_eq!(of_comparison([&cy, &cy2], 0), [UNLABELLED]);
        assert_eq!(of_comparison([], 0), [UNLABELLED]);
    }
}
