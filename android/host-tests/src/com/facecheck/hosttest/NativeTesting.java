package com.facecheck.hosttest;

/**
 * Test-only native methods of a library built with {@code --features testing} ({@code
 * crates/facecheck-jni/src/testing.rs}): they make the bridge's panic handling reachable.
 */
final class NativeTesting {
    private NativeTesting() {}

    /** Panics inside a native call. */
    static native void panic() throws com.facecheck.api.FacecheckException;

    /** Panics while holding the lock of the engine {@code handle}. */
    static native void panicHoldingLock(long handle) throws com.facecheck.api.FacecheckException;
}
