package com.facecheck.api;

/**
 * What one check-in produced: the signed token to upload (whatever the outcome) and what to tell the driver. It
 * carries no score, embedding or image data, by construction of the native library.
 */
public final class CheckInResult {
    /** The selfie matched the enrolled driver and passed the liveness check. */
    public static final String MATCH = "match";
    /** A live face was seen but it did not match: reported for review by a person, never acted on automatically. */
    public static final String NO_MATCH = "no_match";
    /** The selfie looks like a photo or a screen. */
    public static final String SPOOF_SUSPECTED = "spoof_suspected";
    /** No face was found: retake. */
    public static final String NO_FACE = "no_face";
    /** The selfie failed a quality gate ({@link #retakeReason()}): retake. */
    public static final String POOR_QUALITY = "poor_quality";
    /**
     * Too many failed attempts: check-in is paused until {@link #lockedUntil()}, or, after the last step of the
     * schedule, until the driver enrolls again ({@link #isLockedUntilReenrolled()}).
     */
    public static final String LOCKED_OUT = "locked_out";

    /** The liveness method of a check-in from one selfie ({@link Facecheck#checkIn}). */
    public static final String PASSIVE = "passive";
    /** The liveness method of a check-in with the head-turn challenge ({@link Facecheck#checkInActive}). */
    public static final String ACTIVE = "active";

    private final String token;
    private final String outcome;
    private final String retakeReason;
    private final String message;
    private final long lockedUntil;
    private final boolean lockedUntilReenrolled;
    private final long issuedAt;
    private final String livenessMethod;
    private final String activeReason;

    /** Made by the native library. */
    CheckInResult(String token, String outcome, String retakeReason, String message, long lockedUntil,
            boolean lockedUntilReenrolled, long issuedAt, String livenessMethod, String activeReason) {
        this.token = token;
        this.outcome = outcome;
        this.retakeReason = retakeReason;
        this.message = message;
        this.lockedUntil = lockedUntil;
        this.lockedUntilReenrolled = lockedUntilReenrolled;
        this.issuedAt = issuedAt;
        this.livenessMethod = livenessMethod;
        this.activeReason = activeReason;
    }

    /** The signed attestation (a compact JWS): the only thing to send to the fleet server. */
    public String token() {
        return token;
    }

    /** The decision as signed: one of the constants of this class. */
    public String outcome() {
        return outcome;
    }

    /** Whether the driver is checked in. */
    public boolean isMatch() {
        return MATCH.equals(outcome);
    }

    /** For {@code poor_quality} and {@code no_face}: the quality issue to fix (e.g. {@code too_dark}); else null. */
    public String retakeReason() {
        return retakeReason;
    }

    /** A sentence for the driver, in English (the app shows its own localised texts by outcome and reason). */
    public String message() {
        return message;
    }

    /**
     * The estimated end of a timed lock-out in unix seconds, if this attempt caused one or check-in was already
     * locked; else null. The lock-out ends when its time has passed on the phone's boot-time clock, so setting the
     * phone's clock moves this estimate but not the end.
     */
    public Long lockedUntil() {
        return lockedUntil < 0 ? null : lockedUntil;
    }

    /**
     * Whether check-in is locked until the driver enrolls again (the twentieth failed attempt since the last match):
     * no time ends it; the fleet's admin has to issue a new enrollment code.
     */
    public boolean isLockedUntilReenrolled() {
        return lockedUntilReenrolled;
    }

    /** Whether check-in is locked out, for a time or until a new enrollment. */
    public boolean isLockedOut() {
        return lockedUntil >= 0 || lockedUntilReenrolled;
    }

    /** When the token was signed, unix seconds. */
    public long issuedAt() {
        return issuedAt;
    }

    /** The liveness check the token says ran: {@link #PASSIVE} or {@link #ACTIVE}. */
    public String livenessMethod() {
        return livenessMethod;
    }

    /**
     * For an active check-in whose sequence failed the active check (signed {@code spoof_suspected}): why, to advise
     * the driver: {@code too_few_frames} (the face, alone, not seen in enough frames), {@code pose_not_reached} (a
     * pose not seen, or out of order), {@code too_slow}, {@code face_changed} (another face, or the camera moved)
     * or {@code passive_failed} (the frontal face looks like a photo or a screen, or the picture is too poor).
     * Null for a passive check-in, a sequence that passed, or a lock-out (no frame was examined).
     */
    public String activeReason() {
        return activeReason;
    }

    /**
     * For callers that prefer exceptions: returns if the driver is checked in, else throws the exception matching
     * the outcome ({@code NoFace}, {@code PoorQuality}, {@code SpoofSuspected}, {@code LockedOut}, {@code NoMatch}).
     * Upload {@link #token()} first: the server needs every outcome.
     */
    public void requireMatch() throws FacecheckException {
        if (MATCH.equals(outcome)) {
            return;
        }
        if (isLockedOut()) {
            throw new FacecheckException.LockedOut(lockedUntil(), message);
        }
        if (NO_FACE.equals(outcome)) {
            throw new FacecheckException.NoFace(message);
        }
        if (POOR_QUALITY.equals(outcome)) {
            throw new FacecheckException.PoorQuality(retakeReason, message);
        }
        if (SPOOF_SUSPECTED.equals(outcome)) {
            throw new FacecheckException.SpoofSuspected(message);
        }
        throw new FacecheckException.NoMatch(message);
    }

    @Override
    public String toString() {
        return "CheckInResult{outcome=" + outcome + (retakeReason != null ? ", retake=" + retakeReason : "")
                + (activeReason != null ? ", active=" + activeReason : "")
                + (lockedUntil >= 0 ? ", lockedUntil=" + lockedUntil : "")
                + (lockedUntilReenrolled ? ", lockedUntilReenrolled" : "") + "}";
    }
}
