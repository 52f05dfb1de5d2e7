package com.facecheck.api;

/** The state of the driver's data on this device, for the settings screen. No biometric data. */
public final class Status {
    private final boolean hasVault;
    private final String driverId;
    private final String fleetId;
    private final String deviceKeyId;
    private final boolean enrolled;
    private final long enrolledAt;
    private final long lastCheckInAt;
    private final long lockedUntil;
    private final boolean lockedUntilReenrolled;
    private final int failures;
    private final int retentionDays;
    private final long retentionDeadline;

    /** Made by the native library; times are unix seconds, -1 for none. */
    Status(boolean hasVault, String driverId, String fleetId, String deviceKeyId, boolean enrolled, long enrolledAt,
            long lastCheckInAt, long lockedUntil, boolean lockedUntilReenrolled, int failures, int retentionDays,
            long retentionDeadline) {
        this.hasVault = hasVault;
        this.driverId = driverId;
        this.fleetId = fleetId;
        this.deviceKeyId = deviceKeyId;
        this.enrolled = enrolled;
        this.enrolledAt = enrolledAt;
        this.lastCheckInAt = lastCheckInAt;
        this.lockedUntil = lockedUntil;
        this.lockedUntilReenrolled = lockedUntilReenrolled;
        this.failures = failures;
        this.retentionDays = retentionDays;
        this.retentionDeadline = retentionDeadline;
    }

    private static Long time(long seconds) {
        return seconds < 0 ? null : seconds;
    }

    /**
     * Whether this device has a vault (a device key registered for a driver). After an erasure it has none, and
     * {@link Facecheck#enroll} (with a new engine and key) makes a new one with a new device key.
     */
    public boolean hasVault() {
        return hasVault;
    }

    /**
     * Whether the vault holds no face any more (the retention period wiped it) but still its device key: call
     * {@link Facecheck#erase()} to finish the erasure (a receipt for the fleet), then delete the key as after any
     * erasure.
     */
    public boolean isErasureDue() {
        return hasVault && !enrolled;
    }

    /** The fleet's driver id the vault belongs to; null without a vault. */
    public String driverId() {
        return driverId;
    }

    /** The fleet id; null without a vault. */
    public String fleetId() {
        return fleetId;
    }

    /** The device key id ({@code kid} of every token); null without a vault. */
    public String deviceKeyId() {
        return deviceKeyId;
    }

    /** Whether a face template is enrolled now. */
    public boolean isEnrolled() {
        return enrolled;
    }

    /** When the template was enrolled, unix seconds; null if not enrolled. */
    public Long enrolledAt() {
        return time(enrolledAt);
    }

    /** The last successful check-in, unix seconds; null if none. */
    public Long lastCheckInAt() {
        return time(lastCheckInAt);
    }

    /**
     * The estimated end of the current timed lock-out, unix seconds; null if check-in is not locked for a time (see
     * also {@link #isLockedUntilReenrolled()}).
     */
    public Long lockedUntil() {
        return time(lockedUntil);
    }

    /** Whether check-in is locked until the driver enrolls again, which takes a new code from the fleet. */
    public boolean isLockedUntilReenrolled() {
        return lockedUntilReenrolled;
    }

    /** Failed attempts since the last match; they lock check-in from the fifth on, and for good at the twentieth. */
    public int failures() {
        return failures;
    }

    /** Days without a successful check-in after which the template is deleted; 0 without a vault. */
    public int retentionDays() {
        return retentionDays;
    }

    /** When the template is deleted unless the driver checks in before, unix seconds; null if not enrolled. */
    public Long retentionDeadline() {
        return time(retentionDeadline);
    }

    @Override
    public String toString() {
        return "Status{hasVault=" + hasVault + ", enrolled=" + enrolled + ", enrolledAt=" + enrolledAt()
                + ", lockedUntil=" + lockedUntil() + (lockedUntilReenrolled ? ", lockedUntilReenrolled" : "")
                + ", failures=" + failures + ", retentionDeadline=" + retentionDeadline() + "}";
    }
}
