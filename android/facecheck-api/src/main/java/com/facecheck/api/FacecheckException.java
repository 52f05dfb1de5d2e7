package com.facecheck.api;

/**
 * Every error the native library reports. The subclasses are the cases an app handles differently; messages never
 * carry user data (no pixels, scores, ids or keys) and are in English, for logs and as a fallback text.
 *
 * <p>The native library throws these directly: it picks the subclass, so this file and {@code
 * crates/facecheck-jni/src/error.rs} must agree on class names and constructor signatures. A check-in never throws
 * for what it decided ({@code no_match}, {@code spoof_suspected}, {@code no_face}, {@code poor_quality}, {@code
 * locked_out} are signed results for the server); {@link CheckInResult#requireMatch()} turns them into {@link NoMatch},
 * {@link SpoofSuspected}, {@link NoFace}, {@link PoorQuality} and {@link LockedOut} for callers that want exceptions.
 */
public class FacecheckException extends Exception {
    private static final long serialVersionUID = 1L;

    protected FacecheckException(String message) {
        super(message);
    }

    /** No face was found in a frame where one was needed. Retake the selfie. */
    public static final class NoFace extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public NoFace(String message) {
            super(message);
        }
    }

    /**
     * A selfie failed the capture-quality gates; {@link #reason()} says which one and {@link #getMessage()} what to
     * do. Reasons are the core's codes ({@code several_faces}, {@code face_cut_off}, {@code face_too_small}, {@code
     * face_too_close}, {@code turned_away}, {@code head_tilted}, {@code looking_up_or_down}, {@code too_dark}, {@code
     * too_bright}, {@code blurry}), and {@code inconsistent} when enrollment selfies do not all show one person.
     */
    public static final class PoorQuality extends FacecheckException {
        private static final long serialVersionUID = 1L;
        private final String reason;

        public PoorQuality(String reason, String message) {
            super(message);
            this.reason = reason;
        }

        /** A stable code such as {@code too_dark} or {@code blurry}, for choosing a localised text. */
        public String reason() {
            return reason;
        }
    }

    /** The liveness check suspects a presentation attack (a printed photo, a screen). */
    public static final class SpoofSuspected extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public SpoofSuspected(String message) {
            super(message);
        }
    }

    /**
     * A live face that is not the enrolled driver's. Thrown only by {@link CheckInResult#requireMatch()}: a
     * {@code no_match} is a signed decision for a person to review, not a failure of the library.
     */
    public static final class NoMatch extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public NoMatch(String message) {
            super(message);
        }
    }

    /**
     * Too many failed check-ins: verification is locked until {@link #lockedUntil()}, or until the driver enrolls
     * again when that is null.
     */
    public static final class LockedOut extends FacecheckException {
        private static final long serialVersionUID = 1L;
        private final Long lockedUntil;

        public LockedOut(Long lockedUntil, String message) {
            super(message);
            this.lockedUntil = lockedUntil;
        }

        /** About when check-in is possible again, in unix seconds; null if only a new enrollment ends the lock-out. */
        public Long lockedUntil() {
            return lockedUntil;
        }
    }

    /** The vault file is damaged or of an unknown version. It is left untouched; enroll again after erasing it. */
    public static final class VaultCorrupt extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public VaultCorrupt(String message) {
            super(message);
        }
    }

    /** The vault cannot be decrypted with this key: the wrong key, or a tampered file (the two look the same). */
    public static final class WrongKey extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public WrongKey(String message) {
            super(message);
        }
    }

    /**
     * The vault is older than what the fleet has seen from its device key (the challenge's last counter is above
     * the vault's): it was restored from a copy or backup. Nothing was signed; the driver has to enroll again.
     */
    public static final class VaultRolledBack extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public VaultRolledBack(String message) {
            super(message);
        }
    }

    /** An argument is unusable: not a JPEG or PNG, too large, empty, wrong model bytes, a bad id or key length. */
    public static final class InvalidInput extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public InvalidInput(String message) {
            super(message);
        }
    }

    /**
     * The call does not fit the current state; {@link #reason()} is one of {@code closed} (the engine was closed),
     * {@code not_enrolled}, {@code already_enrolled} (enroll on a device with an enrolled face: erase it first),
     * {@code locked_out} (a lock-out is in force), {@code erasure_due} (the retention period wiped the face: erase
     * to finish), {@code erased} (this engine's vault was erased and its key retired: open a new engine with a new
     * key),
     * {@code vault_exists} (a file appeared where the vault was being created), {@code vault_busy} (another handle
     * or process has the vault open).
     */
    public static final class InvalidState extends FacecheckException {
        private static final long serialVersionUID = 1L;
        private final String reason;

        public InvalidState(String reason, String message) {
            super(message);
            this.reason = reason;
        }

        /** A stable code for the state that prevented the call. */
        public String reason() {
            return reason;
        }
    }

    /**
     * {@link Facecheck#readQrCode} found no enrollment code in the picture; {@link #reason()} says why: {@code
     * no_code} (the picture shows no QR code), {@code unreadable} (a code is there but does not read: blurred, too
     * far away, cut off or in glare) or {@code not_enrollment} (a code that is not a Facecheck enrollment code).
     */
    public static final class QrCodeNotRead extends FacecheckException {
        private static final long serialVersionUID = 1L;
        private final String reason;

        public QrCodeNotRead(String reason, String message) {
            super(message);
            this.reason = reason;
        }

        /** {@code no_code}, {@code unreadable} or {@code not_enrollment}, for choosing a localised text. */
        public String reason() {
            return reason;
        }
    }

    /** A failure inside the library (I/O, a model that would not run, a caught panic). Not the driver's fault. */
    public static final class Internal extends FacecheckException {
        private static final long serialVersionUID = 1L;

        public Internal(String message) {
            super(message);
        }
    }
}
