package com.facecheck.flow

import kotlin.math.abs

/**
 * A face the camera's own detector reports (`Camera.Face.rect`): its box in the camera's coordinates, -1000 to 1000
 * on both axes with the frame's centre at 0, whatever the sensor's orientation.
 */
data class SeenFace(val left: Int, val top: Int, val right: Int, val bottom: Int) {
    /** The box's share of the frame's width (of the axis it is widest on: the sensor may be turned). */
    val extent: Double get() = maxOf(right - left, bottom - top) / 2000.0

    /** How far the box's centre is from the frame's centre, as a share of the half-frame, on the worse axis. */
    val offCentre: Double get() = maxOf(abs(left + right) / 2, abs(top + bottom) / 2) / 1000.0
}

/**
 * What the capture screen tells the driver before the shot, from the camera's face detection and the preview's
 * brightness: a guide, not a decision. The core judges the selfie itself, with its own gates; these hints only
 * save the driver a refused shot, so they are set a little inside the core's limits (`quality.rs`: a face at
 * least 64 pixels wide and at most 90 % of the frame, a mean brightness of at least 30 of 255 on the face).
 */
enum class CaptureHint {
    /** The camera sees no face: look at the screen, the face inside the oval. */
    NO_FACE,

    /** More than one face: only the driver in view. */
    SEVERAL_FACES,

    /** The face is small in the frame. */
    MOVE_CLOSER,

    /** The face fills the frame. */
    MOVE_BACK,

    /** The face is far from the centre of the frame. */
    CENTRE,

    /** The picture is dark: the screen lights up as a flash, and the driver should face a light. */
    MORE_LIGHT,

    /** Nothing to say: take the selfie. */
    READY;

    companion object {
        /** Smallest face extent before [MOVE_CLOSER]. */
        const val MIN_EXTENT = 0.2

        /** Largest face extent before [MOVE_BACK]. */
        const val MAX_EXTENT = 0.75

        /** Largest offset of the face's centre before [CENTRE]. */
        const val MAX_OFF_CENTRE = 0.35

        /** Lowest mean brightness of the preview (0 to 255) before [MORE_LIGHT]. */
        const val MIN_MEAN_LUMA = 50

        /**
         * The hint for what the camera sees now: `faces` from its face detection (null when the phone has none) and
         * the preview's mean brightness (null before the first frame). Light first: in the dark the camera's face
         * detection fails too, and light is what the driver can fix.
         */
        fun of(faces: List<SeenFace>?, meanLuma: Int?): CaptureHint = when {
            meanLuma != null && meanLuma < MIN_MEAN_LUMA -> MORE_LIGHT
            faces == null -> READY
            faces.isEmpty() -> NO_FACE
            faces.size > 1 -> SEVERAL_FACES
            faces[0].extent < MIN_EXTENT -> MOVE_CLOSER
            faces[0].extent > MAX_EXTENT -> MOVE_BACK
            faces[0].offCentre > MAX_OFF_CENTRE -> CENTRE
            else -> READY
        }

        /**
         * The mean brightness of an NV21 buffer's luma plane (`width * height` bytes first), from every `step`-th
         * pixel of every `step`-th row: cheap enough to run on preview frames.
         */
        fun meanLuma(nv21: ByteArray, width: Int, height: Int, step: Int = 8): Int {
            var sum = 0L
            var count = 0
            for (y in 0 until height step step) {
                for (x in 0 until width step step) {
                    sum += nv21[y * width + x].toInt() and 0xff
                    count++
                }
            }
            return if (count == 0) 0 else (sum / count).toInt()
        }
    }
}
