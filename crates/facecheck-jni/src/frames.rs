//! Pictures copied out of the JVM: selfies, the frames of a check-in, and the timed frames of an active check-in.
//!
//! Every picture is bounded before it is copied: the number of pictures first, then each one's length (and, for an
//! NV21 frame, its stated size), then their total. The checks run on references to the Java arrays that the copies
//! then read, and a Java array's length never changes: what was checked is what is copied.

use crate::error::{BridgeError, Result};
use facecheck::active::MAX_ACTIVE_FRAMES;
use facecheck::decode;
use facecheck::frame::{check_nv21, MAX_SEQUENCE_BYTES};
use facecheck::{FrameData, Rotation, TimedFrame};
use jni::objects::{JByteArray, JIntArray, JLongArray, JObjectArray};
use jni::sys::{jint, jlong};
use jni::Env;

/// Most bytes one call copies out of the JVM for its frames or selfies, in all (64 MiB: eight camera JPEGs of a
/// 12-megapixel selfie camera are 16 to 48 MiB). Each one is also within [`decode::MAX_ENCODED_BYTES`].
const MAX_FRAME_BYTES_PER_CALL: usize = 64 << 20;

/// The bytes of a Java `byte[]` (not bounded: for model files and keys, which the caller checks).
pub(crate) fn bytes(env: &Env<'_>, array: &JByteArray<'_>) -> Result<Vec<u8>> {
    Ok(env.convert_byte_array(array)?)
}

/// One selfie, copied out of the JVM only if it is within [`decode::MAX_ENCODED_BYTES`].
pub(crate) fn selfie(env: &Env<'_>, array: &JByteArray<'_>) -> Result<Vec<u8>> {
    if array.is_null() {
        return Err(BridgeError::InvalidArgument("the selfie is null"));
    }
    decode::check_encoded_len(array.len(env)?)?;
    bytes(env, array)
}

/// The frames of a `byte[][]`: their number (at most `max`, else the core's error `too_many(count)`), each one's
/// length and their total are checked before anything is copied out of the JVM.
pub(crate) fn frames(
    env: &mut Env<'_>,
    array: &JObjectArray<'_, JByteArray<'_>>,
    max: usize,
    too_many: fn(usize) -> facecheck::Error,
) -> Result<Vec<Vec<u8>>> {
    if array.is_null() {
        return Err(BridgeError::InvalidArgument("the frame array is null"));
    }
    let count = array.len(env)?;
    if count > max {
        return Err(too_many(count).into());
    }
    copy_bounded(env, array, count, MAX_FRAME_BYTES_PER_CALL, |_, len| Ok(decode::check_encoded_len(len)?))
}

/// The pixels of one timed frame, as `com.facecheck.api.Frame` describes them (`Frame.writeShape`): four ints per
/// frame, the format (0: JPEG or PNG, 1: NV21), then for NV21 the width, the height and the clockwise rotation in
/// degrees (zeros for an encoded frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Encoded,
    Nv21 { width: u32, height: u32, rotation: Rotation },
}

/// Ints per frame in the `shapes` array.
const SHAPE_INTS: usize = 4;
/// `Frame.FORMAT_ENCODED`.
const FORMAT_ENCODED: jint = 0;
/// `Frame.FORMAT_NV21`.
const FORMAT_NV21: jint = 1;

impl Shape {
    fn parse(values: &[jint]) -> Result<Shape> {
        match *values {
            [FORMAT_ENCODED, 0, 0, 0] => Ok(Shape::Encoded),
            [FORMAT_NV21, width, height, degrees] => {
                let side =
                    |v: jint| u32::try_from(v).map_err(|_| BridgeError::InvalidArgument("a negative frame size"));
                let rotation = Rotation::from_degrees(degrees)
                    .ok_or(BridgeError::InvalidArgument("a frame's rotation is 0, 90, 180 or 270 degrees"))?;
                Ok(Shape::Nv21 { width: side(width)?, height: side(height)?, rotation })
            }
            _ => Err(BridgeError::InvalidArgument("a frame's format is neither encoded nor NV21")),
        }
    }

    /// The bounds of a frame of this shape and `len` bytes, from the sizes alone.
    fn check(self, len: usize) -> Result<()> {
        match self {
            Shape::Encoded => Ok(decode::check_encoded_len(len)?),
            Shape::Nv21 { width, height, .. } => Ok(check_nv21(width, height, len)?),
        }
    }
}

/// The timed frames of an active check-in, copied out of the JVM.
pub(crate) struct TimedFrames {
    pixels: Vec<Vec<u8>>,
    shapes: Vec<Shape>,
    times: Vec<u64>,
}

impl TimedFrames {
    /// The frames as the core takes them, borrowing the copies.
    pub(crate) fn frames(&self) -> Vec<TimedFrame<'_>> {
        let frames = self.pixels.iter().zip(&self.shapes).zip(&self.times);
        frames
            .map(|((pixels, shape), &time_ms)| {
                let data = match *shape {
                    Shape::Encoded => FrameData::Encoded(pixels),
                    Shape::Nv21 { width, height, rotation } => {
                        FrameData::Nv21 { width, height, rotation, data: pixels }
                    }
                };
                TimedFrame { data, time_ms }
            })
            .collect()
    }
}

/// The timed frames of `checkInActive`: the pictures (`byte[][]`), their shapes (`int[]`, [`SHAPE_INTS`] per frame)
/// and capture times in milliseconds (`long[]`). At most [`MAX_ACTIVE_FRAMES`] frames, each within the bounds of its
/// shape, [`MAX_SEQUENCE_BYTES`] in all, all checked before any picture is copied; the core checks the rest (no
/// frames, times in order).
pub(crate) fn timed_frames(
    env: &mut Env<'_>,
    array: &JObjectArray<'_, JByteArray<'_>>,
    shapes: &JIntArray<'_>,
    times: &JLongArray<'_>,
) -> Result<TimedFrames> {
    if array.is_null() || shapes.is_null() || times.is_null() {
        return Err(BridgeError::InvalidArgument("the frames, their shapes or their times are null"));
    }
    let count = array.len(env)?;
    if count > MAX_ACTIVE_FRAMES {
        return Err(facecheck::Error::CheckinFrameCount { given: count, max: MAX_ACTIVE_FRAMES }.into());
    }
    if shapes.len(env)? != count * SHAPE_INTS || times.len(env)? != count {
        return Err(BridgeError::InvalidArgument("the frames' shapes or times do not match the frames"));
    }
    let mut values = vec![0; count * SHAPE_INTS];
    shapes.get_region(env, 0, &mut values)?;
    let shapes = values.chunks_exact(SHAPE_INTS).map(Shape::parse).collect::<Result<Vec<_>>>()?;
    let mut millis: Vec<jlong> = vec![0; count];
    times.get_region(env, 0, &mut millis)?;
    let times = millis
        .into_iter()
        .map(|t| u64::try_from(t).map_err(|_| BridgeError::InvalidArgument("a frame's capture time is negative")))
        .collect::<Result<Vec<_>>>()?;
    let pixels = copy_bounded(env, array, count, MAX_SEQUENCE_BYTES, |i, len| shapes[i].check(len))?;
    Ok(TimedFrames { pixels, shapes, times })
}

/// Copies the `count` pictures of `array` after checking each one's length (`check(index, len)`; its error is
/// reported for the picture's 1-based number) and that they are at most `max_total` bytes in all.
fn copy_bounded(
    env: &mut Env<'_>,
    array: &JObjectArray<'_, JByteArray<'_>>,
    count: usize,
    max_total: usize,
    check: impl Fn(usize, usize) -> Result<()>,
) -> Result<Vec<Vec<u8>>> {
    env.with_local_frame(count, |env| {
        let mut elements = Vec::with_capacity(count);
        let mut total = 0usize;
        for i in 0..count {
            let element = array.get_element(env, i)?;
            if element.is_null() {
                return Err(BridgeError::InvalidArgument("a frame is null"));
            }
            let len = element.len(env)?;
            check(i, len).map_err(|e| match e {
                BridgeError::Core(source) => {
                    BridgeError::Core(facecheck::Error::Selfie { index: i + 1, source: Box::new(source) })
                }
                other => other,
            })?;
            total = total.saturating_add(len);
            if total > max_total {
                return Err(facecheck::Error::FramesTooLarge { given: total, max: max_total }.into());
            }
            elements.push(element);
        }
        elements.iter().map(|element| bytes(env, element)).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_as_frame_writes_them() {
        assert_eq!(Shape::parse(&[0, 0, 0, 0]).unwrap(), Shape::Encoded);
        assert_eq!(
            Shape::parse(&[1, 640, 480, 270]).unwrap(),
            Shape::Nv21 { width: 640, height: 480, rotation: Rotation::R270 }
        );
        for bad in [[2, 0, 0, 0], [0, 640, 480, 0], [1, 640, 480, 45], [1, -640, 480, 0], [-1, 0, 0, 0]] {
            assert!(matches!(Shape::parse(&bad), Err(BridgeError::InvalidArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_shape_bounds_its_frame_before_the_copy() {
        let nv21 = Shape::Nv21 { width: 640, height: 480, rotation: Rotation::R90 };
        assert!(nv21.check(640 * 480 * 3 / 2).is_ok());
        assert!(matches!(nv21.check(640 * 480), Err(BridgeError::Core(facecheck::Error::InvalidFrame(_)))));
        let huge = Shape::Nv21 { width: 4000, height: 3000, rotation: Rotation::R0 };
        assert!(matches!(huge.check(4000 * 3000 * 3 / 2), Err(BridgeError::Core(facecheck::Error::InvalidFrame(_)))));
        assert!(Shape::Encoded.check(1000).is_ok());
        assert!(Shape::Encoded.check(decode::MAX_ENCODED_BYTES + 1).is_err());
    }

    /// The Java side writes the same numbers (`Frame.FORMAT_*`, four ints per frame in `Facecheck.checkInActive`).
    #[test]
    fn the_java_frame_writes_these_formats() {
        let java = include_str!("../../../android/facecheck-api/src/main/java/com/facecheck/api/Frame.java");
        assert!(java.contains(&format!("static final int FORMAT_ENCODED = {FORMAT_ENCODED};")));
        assert!(java.contains(&format!("static final int FORMAT_NV21 = {FORMAT_NV21};")));
        let facecheck = include_str!("../../../android/facecheck-api/src/main/java/com/facecheck/api/Facecheck.java");
        assert!(facecheck.contains(&format!("new int[array.length * {SHAPE_INTS}]")));
    }
}
