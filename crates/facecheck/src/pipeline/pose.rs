//! The head's pose from YuNet's five landmarks (eyes, nose tip, mouth corners), and the poses an active challenge
//! asks for.
//!
//! # The estimate ([`HeadPose`])
//! The roll is the angle of the eye line. With the roll undone (the eye line turned horizontal about the eyes'
//! midpoint):
//! - **yaw** is the sideways offset of the nose tip from the face's midline (halfway between the eyes' midpoint and
//!   the mouth corners' midpoint), in eye distances. The nose tip stands in front of the eyes and mouth; when the
//!   head turns by an angle θ it moves sideways by about its depth times sin θ while the eye distance shrinks by
//!   cos θ, so the measure grows like `(depth / eye distance) · tan θ`, roughly `0.5 · tan θ` for an adult face
//!   (a rule of thumb, not a calibration: the depth of the nose varies from face to face). Positive when the
//!   subject turns to **their own left**, as the camera sees them: in a frame that is not mirrored, their nose moves
//!   towards the image's right, towards the landmark YuNet calls the left eye.
//! - **pitch** is the height of the nose tip between the eye line (0) and the mouth line (1): 0.57 on the embedder's
//!   frontal template; lower when the head tips back (chin up: the nose tip, in front of the face, rises towards
//!   the eyes), higher when it tips forward. Faces differ (a long nose, a high mouth), so the challenge compares a
//!   frame's pitch with that of the same person's frontal frame rather than with a fixed value.
//!
//! Both are ratios of distances measured in the face's own plane, so they do not change when a flat picture of a
//! face is moved, rolled, or turned or tipped about the face's own vertical or horizontal axis in front of the
//! camera (to the extent that the camera's projection is affine, i.e. the picture is far from the lens compared
//! with its size; turned about a slanted axis, the yaw moves a little): only the nose tip standing out of the plane
//! of the eyes and mouth moves them. A printed face cannot turn its head; a bent print or a screen playing a video of
//! a turning head can. `docs/liveness.md` ("Active challenge") has what the estimate gives on real photos.
//!
//! # The poses ([`Pose`], [`PoseThresholds`])
//! A challenge asks for [`Pose::Left`], [`Pose::Right`] and [`Pose::Up`]; [`PoseThresholds::classify`] names the
//! pose of one frame, given the pitch of the frontal frame of the same sequence.

/// How the head is held, estimated from five landmarks (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HeadPose {
    /// Sideways offset of the nose tip from the face's midline, in eye distances, roll undone; positive when the
    /// subject turns to their own left (as the camera sees them, not mirrored). Roughly `0.5 · tan(yaw)`.
    pub yaw: f32,
    /// Height of the nose tip between the eye line (0) and the mouth line (1), roll undone: 0.57 on the frontal
    /// template, lower when the head tips back (chin up).
    pub pitch: f32,
    /// Angle of the line from the subject's right eye to their left eye to the horizontal, in degrees.
    pub roll_degrees: f32,
}

impl HeadPose {
    /// The pose from YuNet's landmarks (subject's right eye, left eye, nose tip, right and left mouth corners);
    /// `None` when the eyes coincide or are not finite. Another non-finite landmark gives NaN measures, which no
    /// threshold accepts. The pitch is NaN when the mouth is not below the eyes.
    pub fn from_landmarks(landmarks: &[(f32, f32); 5]) -> Option<HeadPose> {
        let [right_eye, left_eye, nose, right_mouth, left_mouth] = *landmarks;
        let (dx, dy) = (left_eye.0 - right_eye.0, left_eye.1 - right_eye.1);
        let eye_distance = dx.hypot(dy);
        if !eye_distance.is_finite() || eye_distance <= 0.0 {
            return None;
        }
        let roll = dy.atan2(dx);
        let (cos, sin) = (roll.cos(), roll.sin());
        let origin = ((right_eye.0 + left_eye.0) / 2.0, (right_eye.1 + left_eye.1) / 2.0);
        // Rotate by -roll about the eyes' midpoint: the eye line becomes horizontal, the mouth below it.
        let upright = |(x, y): (f32, f32)| {
            let (x, y) = (x - origin.0, y - origin.1);
            (cos * x + sin * y, -sin * x + cos * y)
        };
        let nose = upright(nose);
        let mouth = upright(((right_mouth.0 + left_mouth.0) / 2.0, (right_mouth.1 + left_mouth.1) / 2.0));
        let midline = mouth.0 / 2.0;
        let yaw = (nose.0 - midline) / eye_distance;
        let pitch = if mouth.1 > 0.0 { nose.1 / mouth.1 } else { f32::NAN };
        Some(HeadPose { yaw, pitch, roll_degrees: roll.to_degrees() })
    }
}

/// A head pose an active challenge asks for, in the subject's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pose {
    /// Head turned to the subject's own left.
    Left,
    /// Head turned to the subject's own right.
    Right,
    /// Chin up, head tipped back.
    Up,
}

impl Pose {
    /// The three poses, in the order a challenge's digest indexes them.
    pub const ALL: [Pose; 3] = [Pose::Left, Pose::Right, Pose::Up];

    /// `left`, `right`, `up`.
    pub fn code(self) -> &'static str {
        match self {
            Pose::Left => "left",
            Pose::Right => "right",
            Pose::Up => "up",
        }
    }
}

/// What one frame's head pose is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoseClass {
    /// Facing the camera: may serve as the frontal frame.
    Frontal,
    /// One of the challenge's poses.
    Posed(Pose),
    /// Neither: between poses, or turned and tipped at once.
    Between,
}

/// The limits that name a frame's pose (calibration and measurements in `docs/liveness.md`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PoseThresholds {
    /// Largest |yaw| of a frontal frame.
    pub frontal_max_abs_yaw: f32,
    /// Largest distance of a frontal frame's pitch from the frontal template's 0.57 (the quality gates also apply).
    pub frontal_max_pitch_offset: f32,
    /// Smallest |yaw| of a turned frame ([`Pose::Left`], [`Pose::Right`]).
    pub turn_min_abs_yaw: f32,
    /// Smallest drop of pitch below the frontal frame's for [`Pose::Up`].
    pub up_min_pitch_drop: f32,
    /// Largest |yaw| of an [`Pose::Up`] frame (a head turned and tipped at once is neither).
    pub up_max_abs_yaw: f32,
}

/// The pitch of the embedder's frontal template.
pub const FRONTAL_PITCH: f32 = 0.57;

impl PoseThresholds {
    /// The thresholds the library applies.
    pub const SHIPPED: PoseThresholds = PoseThresholds {
        frontal_max_abs_yaw: 0.1,
        frontal_max_pitch_offset: 0.1,
        turn_min_abs_yaw: 0.2,
        up_min_pitch_drop: 0.08,
        up_max_abs_yaw: 0.15,
    };

    /// Whether `pose` may serve as a sequence's frontal frame.
    pub fn is_frontal(&self, pose: &HeadPose) -> bool {
        pose.yaw.abs() <= self.frontal_max_abs_yaw
            && (pose.pitch - FRONTAL_PITCH).abs() <= self.frontal_max_pitch_offset
    }

    /// The class of `pose`, with `frontal_pitch` the pitch of the same face's frontal frame. Written so that a NaN
    /// measure gives [`PoseClass::Between`].
    pub fn classify(&self, pose: &HeadPose, frontal_pitch: f32) -> PoseClass {
        if pose.yaw >= self.turn_min_abs_yaw && pose.pitch.is_finite() {
            PoseClass::Posed(Pose::Left)
        } else if pose.yaw <= -self.turn_min_abs_yaw && pose.pitch.is_finite() {
            PoseClass::Posed(Pose::Right)
        } else if pose.pitch <= frontal_pitch - self.up_min_pitch_drop && pose.yaw.abs() <= self.up_max_abs_yaw {
            PoseClass::Posed(Pose::Up)
        } else if self.is_frontal(pose) {
            PoseClass::Frontal
        } else {
            PoseClass::Between
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedder's template, scaled by 2 and moved: an upright frontal face about 200 px wide.
    fn frontal() -> [(f32, f32); 5] {
        crate::pipeline::align::TEMPLATE.map(|(x, y)| (2.0 * x, 2.0 * y))
    }

    fn rotate(points: [(f32, f32); 5], degrees: f32, about: (f32, f32)) -> [(f32, f32); 5] {
        let (s, c) = degrees.to_radians().sin_cos();
        points.map(|(x, y)| {
            let (x, y) = (x - about.0, y - about.1);
            (c * x - s * y + about.0, s * x + c * y + about.1)
        })
    }

    fn pose(landmarks: &[(f32, f32); 5]) -> HeadPose {
        HeadPose::from_landmarks(landmarks).expect("pose")
    }

    #[test]
    fn pose_of_the_frontal_template_is_neutral() {
        let p = pose(&frontal());
        assert!(p.yaw.abs() < 0.01 && p.roll_degrees.abs() < 0.2 && (p.pitch - 0.57).abs() < 0.01, "{p:?}");
    }

    #[test]
    fn roll_is_measured_and_undone_for_yaw_and_pitch() {
        let p = pose(&rotate(frontal(), 30.0, (150.0, 150.0)));
        assert!((p.roll_degrees - 30.1).abs() < 0.3, "{p:?}");
        assert!(p.yaw.abs() < 0.01 && (p.pitch - 0.57).abs() < 0.01, "{p:?}");
    }

    #[test]
    fn nose_offsets_give_yaw_and_pitch() {
        let mut turned = frontal();
        turned[2].0 += 0.4 * 112.08; // eye distance of the scaled template
        assert!(pose(&turned).yaw > 0.39);
        let mut tipped = frontal();
        tipped[2].1 -= 40.0;
        assert!(pose(&tipped).pitch < 0.3);
        assert!(HeadPose::from_landmarks(&[(1.0, 1.0); 5]).is_none());
        assert!(HeadPose::from_landmarks(&[(f32::NAN, 0.0); 5]).is_none());
        let upside_down = rotate(frontal(), 180.0, (150.0, 150.0));
        assert!(pose(&upside_down).roll_degrees.abs() > 170.0);
    }

    /// A flat face moved, scaled, rolled, or turned or tipped about its own vertical or horizontal axis in front of
    /// an affine camera keeps its yaw and pitch: only depth moves them. (A shear, a flat face turned about a
    /// slanted axis, moves the yaw a little: the midline is then no longer perpendicular to the eye line.)
    #[test]
    fn a_flat_face_moved_in_front_of_the_camera_keeps_its_pose() {
        let flat = pose(&frontal());
        let (s, c) = 20f32.to_radians().sin_cos();
        for (a, b, c, d) in
            [(0.7, 0.0, 0.0, 1.0), (1.0, 0.0, 0.0, 0.6), (0.5, 0.0, 0.0, 0.8), (0.6 * c, -s, 0.6 * s, c)]
        {
            let mapped = frontal().map(|(x, y)| (a * x + b * y + 40.0, c * x + d * y - 12.0));
            let p = pose(&mapped);
            assert!((p.yaw - flat.yaw).abs() < 0.02 && (p.pitch - flat.pitch).abs() < 0.02, "{a} {b} {c} {d}: {p:?}");
        }
    }

    #[test]
    fn classes_follow_the_thresholds() {
        let t = PoseThresholds::SHIPPED;
        let at = |yaw: f32, pitch: f32| t.classify(&HeadPose { yaw, pitch, roll_degrees: 0.0 }, 0.57);
        assert_eq!(at(0.0, 0.57), PoseClass::Frontal);
        assert_eq!(at(0.3, 0.57), PoseClass::Posed(Pose::Left));
        assert_eq!(at(-0.3, 0.57), PoseClass::Posed(Pose::Right));
        assert_eq!(at(0.0, 0.45), PoseClass::Posed(Pose::Up));
        assert_eq!(at(0.15, 0.57), PoseClass::Between);
        assert_eq!(at(0.18, 0.45), PoseClass::Between, "turned and tipped at once");
        assert_eq!(at(0.0, 0.75), PoseClass::Between, "tipped forward");
        assert_eq!(at(f32::NAN, 0.57), PoseClass::Between);
        assert_eq!(at(0.0, f32::NAN), PoseClass::Between);
        assert_eq!(at(0.5, f32::NAN), PoseClass::Between);
        // Up is relative to the person's own frontal pitch.
        let up = HeadPose { yaw: 0.0, pitch: 0.55, roll_degrees: 0.0 };
        assert_eq!(t.classify(&up, 0.65), PoseClass::Posed(Pose::Up));
        assert_eq!(t.classify(&up, 0.57), PoseClass::Frontal);
    }
}
