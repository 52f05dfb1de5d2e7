package com.facecheck.api;

import java.util.Arrays;

/**
 * One camera frame of an active check-in ({@link Facecheck#checkInActive}) and when it was captured: a JPEG or PNG
 * (EXIF orientation applied), or an NV21 preview buffer as Android's camera delivers it, with the clockwise turn
 * that makes it upright. The native library bounds every frame from its sizes before it decodes anything (NV21:
 * even sides of 16 to 1920 pixels, at most 1920x1080, exactly {@code width * height * 3 / 2} bytes).
 *
 * <p>A frame holds a picture of the driver's face: keep it in memory only, and {@link #wipe()} it when the check-in
 * is done. It has no public accessor for its pixels.
 */
public final class Frame {
    /** A JPEG or PNG. The format numbers are the native library's ({@code crates/facecheck-jni/src/frames.rs}). */
    static final int FORMAT_ENCODED = 0;
    /** An NV21 buffer (Android's default preview format). */
    static final int FORMAT_NV21 = 1;

    private final int format;
    private final byte[] data;
    private final int width;
    private final int height;
    private final int rotation;
    private final long timeMillis;

    private Frame(int format, byte[] data, int width, int height, int rotation, long timeMillis) {
        if (data == null) {
            throw new NullPointerException("data is null");
        }
        if (timeMillis < 0) {
            throw new IllegalArgumentException("the capture time is negative: " + timeMillis);
        }
        this.format = format;
        this.data = data;
        this.width = width;
        this.height = height;
        this.rotation = rotation;
        this.timeMillis = timeMillis;
    }

    /**
     * A JPEG or PNG captured at {@code timeMillis} (milliseconds on a monotonic clock, such as {@code
     * SystemClock.elapsedRealtime()}: only the differences between one check-in's frames count).
     */
    public static Frame jpeg(byte[] data, long timeMillis) {
        return new Frame(FORMAT_ENCODED, data, 0, 0, 0, timeMillis);
    }

    /**
     * An NV21 buffer of {@code width x height} pixels as stored, which {@code rotationDegrees} (0, 90, 180 or 270)
     * clockwise makes upright, captured at {@code timeMillis} (as for {@link #jpeg}). The buffer is not copied: do
     * not reuse it for the next preview frame.
     */
    public static Frame nv21(byte[] data, int width, int height, int rotationDegrees, long timeMillis) {
        if (rotationDegrees != 0 && rotationDegrees != 90 && rotationDegrees != 180 && rotationDegrees != 270) {
            throw new IllegalArgumentException("the rotation is 0, 90, 180 or 270 degrees, not " + rotationDegrees);
        }
        return new Frame(FORMAT_NV21, data, width, height, rotationDegrees, timeMillis);
    }

    /** When the frame was captured, in milliseconds. */
    public long timeMillis() {
        return timeMillis;
    }

    /** Overwrites the pixels with zeros: the frame is unusable afterwards. */
    public void wipe() {
        Arrays.fill(data, (byte) 0);
    }

    byte[] data() {
        return data;
    }

    /** What the native call takes for this frame: format, width, height, rotation (see {@code frames.rs}). */
    void writeShape(int[] shapes, int at) {
        shapes[at] = format;
        shapes[at + 1] = width;
        shapes[at + 2] = height;
        shapes[at + 3] = rotation;
    }

    @Override
    public String toString() {
        // Sizes only, never the pixels.
        return format == FORMAT_NV21
                ? "Frame{nv21 " + width + "x" + height + ", " + rotation + " deg, t=" + timeMillis + "}"
                : "Frame{encoded " + data.length + " bytes, t=" + timeMillis + "}";
    }
}
