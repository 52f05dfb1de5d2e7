package com.facecheck.api;

/**
 * The native methods of {@code libfacecheck_jni} ({@code crates/facecheck-jni/src/lib.rs}), one to one. Use {@link
 * Facecheck} instead: it checks arguments and keeps the handle.
 */
final class NativeBridge {
    private NativeBridge() {}

    static native String[] modelFileNames();

    static native long open(
            byte[] detector, byte[] embedder, byte[] livenessV2, byte[] livenessV1se, String vaultPath, byte[] kek)
            throws FacecheckException;

    static native void close(long handle);

    static native void screen(long handle, byte[] frame) throws FacecheckException;

    static native String enroll(long handle, String driverId, String fleetId, byte[][] selfies,
            String enrollmentCode, String consentNotice, long consentAcceptedAt) throws FacecheckException;

    static native CheckInResult checkIn(long handle, String nonce, String blockId, long lastCounter, byte[][] frames)
            throws FacecheckException;

    static native String[] activeChallenge(String nonce);

    static native CheckInResult checkInActive(long handle, String nonce, String blockId, long lastCounter,
            byte[][] frames, int[] shapes, long[] times) throws FacecheckException;

    static native Status status(long handle) throws FacecheckException;

    static native String erase(long handle, String nonce, String blockId) throws FacecheckException;

    static native String registrationStatement(long handle, String enrollmentCode, String consentNotice,
            long consentAcceptedAt) throws FacecheckException;

    static native String reviewRequest(long handle, String checkInToken, String reason) throws FacecheckException;

    static native byte[] devicePublicKey(long handle) throws FacecheckException;

    static native String readQrCode(byte[] picture) throws FacecheckException;
}
