//! The active challenge: which head poses a check-in asks for, derived from the fleet's nonce.
//!
//! The fleet issues a single-use nonce for every check-in; the app prompts the poses it determines, and the core
//! checks them ([`Engine::check_active`](crate::Engine::check_active)). Because the poses follow from the nonce,
//! nobody knows them before the fleet hands the nonce out, and the fleet can recompute them to audit a check-in.
//!
//! # Derivation (version 1)
//! 1. `d = SHA-256("facecheck/active-challenge/v1" || 0x00 || nonce)`, the nonce as its UTF-8 bytes.
//! 2. The first pose: the first byte `b` of `d` (in order) with `b < 255`; the pose is `[left, right, up][b % 3]`
//!    (255 is skipped so that each pose is equally likely; if all 32 bytes were 255 the pose would be `left`).
//! 3. The second pose: the byte of `d` right after that one (`d[0]` if there is none), `c`; the two poses other
//!    than the first, in the order `left, right, up`, and the one at index `c % 2`.
//!
//! So there are six challenges (two different poses of three, in order), each of probability 1/6: a recording
//! made in advance for one challenge passes one nonce in six, which the fleet's attempt limits have to bound.
//! Test vectors (checked by the tests below, and computed independently with Python's `hashlib`): `"nonce-0"` →
//! `[left, right]`, `"N"` → `[left, up]`, `""` → `[up, right]`.

use crate::pipeline::pose::Pose;

/// How many poses a challenge asks for.
pub const CHALLENGE_POSES: usize = 2;

/// The domain separation prefix of the derivation (version 1), followed by a zero byte and the nonce.
const DOMAIN: &[u8] = b"facecheck/active-challenge/v1\0";

/// The head poses one check-in asks for, in order: two different poses of [`Pose::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ActiveChallenge {
    poses: [Pose; CHALLENGE_POSES],
}

impl ActiveChallenge {
    /// The challenge the fleet's `nonce` determines (see the module doc for the exact derivation).
    pub fn from_nonce(nonce: &str) -> ActiveChallenge {
        let mut input = Vec::with_capacity(DOMAIN.len() + nonce.len());
        input.extend_from_slice(DOMAIN);
        input.extend_from_slice(nonce.as_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA256, &input);
        let d = digest.as_ref();
        let first_at = d.iter().position(|&b| b < 255);
        let first = Pose::ALL[first_at.map_or(0, |i| usize::from(d[i] % 3))];
        let next = first_at.and_then(|i| d.get(i + 1)).copied().unwrap_or(d[0]);
        let others: Vec<Pose> = Pose::ALL.into_iter().filter(|&p| p != first).collect();
        ActiveChallenge { poses: [first, others[usize::from(next % 2)]] }
    }

    /// A challenge of the given poses; `None` when a pose follows itself. For evaluations and tests: a check-in's
    /// challenge comes from the fleet's nonce ([`ActiveChallenge::from_nonce`]).
    pub fn new(poses: [Pose; CHALLENGE_POSES]) -> Option<ActiveChallenge> {
        poses.windows(2).all(|w| w[0] != w[1]).then_some(ActiveChallenge { poses })
    }

    /// The poses, in the order they are to be shown.
    pub fn poses(&self) -> &[Pose; CHALLENGE_POSES] {
        &self.poses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn challenges_are_deterministic_and_never_repeat_a_pose() {
        for i in 0..200 {
            let nonce = format!("nonce-{i}");
            let c = ActiveChallenge::from_nonce(&nonce);
            assert_eq!(c, ActiveChallenge::from_nonce(&nonce));
            assert_ne!(c.poses()[0], c.poses()[1], "{nonce}");
        }
        assert!(ActiveChallenge::new([Pose::Up, Pose::Up]).is_none());
        assert_eq!(ActiveChallenge::new([Pose::Left, Pose::Up]).map(|c| *c.poses()), Some([Pose::Left, Pose::Up]));
    }

    /// Test vectors for the fleet's own implementation of the derivation.
    #[test]
    fn derivation_test_vectors() {
        let poses = |nonce: &str| *ActiveChallenge::from_nonce(nonce).poses();
        assert_eq!(poses("nonce-0"), [Pose::Left, Pose::Right]);
        assert_eq!(poses("N"), [Pose::Left, Pose::Up]);
        assert_eq!(poses(""), [Pose::Up, Pose::Right]);
    }

    #[test]
    fn the_six_challenges_are_about_equally_likely() {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let n = 6000;
        for i in 0..n {
            let c = ActiveChallenge::from_nonce(&format!("n{i}"));
            *counts.entry(format!("{:?}", c.poses())).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 6, "{counts:?}");
        // 1,000 expected each; 5 standard deviations is about 150.
        assert!(counts.values().all(|&c| (850..=1150).contains(&c)), "{counts:?}");
    }
}
