package com.facecheck.api;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * The Facecheck engine for one driver on one device: the models (loaded and optimised once per instance) and the
 * driver's encrypted vault. Plain JVM code with no Android dependency, used by the app and by the host tests.
 *
 * <p>Nothing returned here is biometric: tokens are signed JWS statements of a decision, statuses are timestamps.
 * No method returns an image, a crop, an embedding, a template or a score.
 *
 * <p>Threads: every method may be called from any thread. Calls on one instance are serialised by the native
 * library (the screening of a selfie runs in parallel with them); run them off the UI thread, a check-in takes
 * about a second. {@link #close()} may be called at any time and more than once: calls in progress finish, later
 * ones throw {@link FacecheckException.InvalidState} with reason {@code closed}.
 *
 * <pre>{@code
 * Facecheck.loadLibrary("/path/to/libfacecheck_jni.so");   // or loadLibrary() on Android
 * try (Facecheck engine = Facecheck.open(Facecheck.directory(new File("models")), new File("driver.vault"), kek)) {
 *     String registration = engine.enroll("driver-42", "fleet-7", selfies);   // send to the fleet
 *     CheckInResult result = engine.checkIn(nonce, blockId, frames);
 *     upload(result.token());
 * }
 * }</pre>
 */
public final class Facecheck implements AutoCloseable {
    /** The name of the native library, as {@link System#loadLibrary} takes it. */
    public static final String LIBRARY = "facecheck_jni";

    private final long handle;

    private Facecheck(long handle) {
        this.handle = handle;
    }

    /** Loads {@code libfacecheck_jni} from the library path (on Android, the APK's {@code lib/<abi>/}). */
    public static void loadLibrary() {
        System.loadLibrary(LIBRARY);
    }

    /** Loads the native library from an absolute path (host tests). */
    public static void loadLibrary(String absolutePath) {
        System.load(absolutePath);
    }

    /**
     * The model files the native library expects, as pinned by its compiled-in manifest, in the order detector,
     * embedder, liveness V2, liveness V1SE.
     */
    public static String[] modelFileNames() {
        return NativeBridge.modelFileNames();
    }

    /** Model files read from a folder (the repository's {@code models/}). */
    public static ModelSource directory(final File dir) {
        return new ModelSource() {
            @Override
            public byte[] read(String fileName) throws IOException {
                return readAll(new FileInputStream(new File(dir, fileName)));
            }
        };
    }

    /**
     * The payload of the dispatcher's enrollment QR code ({@code facecheck-enroll:1?server=...&code=...}) in a camera
     * picture (JPEG or PNG), read on the phone: the picture is bounded and decoded like a selfie, scanned in grey at
     * most 1600 pixels a side, and neither stored nor logged. Needs the library loaded, not an engine.
     *
     * @throws FacecheckException.QrCodeNotRead with the reason {@code no_code}, {@code unreadable} or {@code
     *     not_enrollment}
     * @throws FacecheckException.InvalidInput a picture that does not decode or is too large
     */
    public static String readQrCode(byte[] picture) throws FacecheckException {
        checkNotNull(picture, "picture");
        return NativeBridge.readQrCode(picture);
    }

    /**
     * The head poses the active check-in of the fleet's {@code nonce} asks for, in order: two of {@code left},
     * {@code right} and {@code up} (the subject's own left and right). The poses follow from the nonce alone, so the
     * fleet can compute them too and nobody knows them before the fleet hands the nonce out. Needs the library
     * loaded, not an engine.
     */
    public static String[] activeChallenge(String nonce) {
        checkNotNull(nonce, "nonce");
        return NativeBridge.activeChallenge(nonce);
    }

    /**
     * Loads the models (each must match the digest the library pins) and opens the vault at {@code vault} if one
     * exists; {@link #enroll} creates it otherwise.
     *
     * @param kek the 32-byte key-encryption key of the vault (on Android: unwrapped with the Keystore). The caller
     *     owns the array and should overwrite it once this returns.
     * @throws FacecheckException.WrongKey the vault does not decrypt with {@code kek} (or was tampered with)
     * @throws FacecheckException.VaultCorrupt the vault is damaged; it is left untouched
     * @throws FacecheckException.InvalidInput model bytes that do not match the manifest, a key of the wrong length
     * @throws FacecheckException.InvalidState reason {@code vault_busy}: another engine has this vault open
     * @throws IOException a model file could not be read
     */
    public static Facecheck open(ModelSource models, File vault, byte[] kek) throws FacecheckException, IOException {
        checkNotNull(models, "models");
        checkNotNull(vault, "vault");
        checkNotNull(kek, "kek");
        String[] names = modelFileNames();
        byte[][] bytes = new byte[names.length][];
        for (int i = 0; i < names.length; i++) {
            bytes[i] = models.read(names[i]);
            checkNotNull(bytes[i], names[i]);
        }
        return new Facecheck(NativeBridge.open(bytes[0], bytes[1], bytes[2], bytes[3], vault.getPath(), kek));
    }

    /**
     * Checks one selfie as enrollment will: quality gates, then liveness. Returns if it is usable.
     *
     * @throws FacecheckException.NoFace no face in the picture
     * @throws FacecheckException.PoorQuality the first quality gate it failed, with what to do
     * @throws FacecheckException.SpoofSuspected it looks like a photo or a screen
     * @throws FacecheckException.InvalidInput not a JPEG or PNG the library reads
     */
    public void screen(byte[] jpeg) throws FacecheckException {
        checkNotNull(jpeg, "jpeg");
        NativeBridge.screen(handle, jpeg);
    }

    /**
     * Enrolls the driver from 3 to 5 selfies: creates the vault and a new device key, and returns the device
     * registration statement (a JWS carrying the device public key) for the fleet server, which has to register
     * (and approve) it before anything the new key signs is accepted. Nothing is stored unless every selfie is
     * accepted.
     *
     * <p>There must be no vault: after {@link #erase}, enroll again with a new engine opened with a new key. The
     * result is a <em>new</em> registration statement, for a new device key, that must reach the fleet like the
     * first one. A new face is never enrolled under a key the fleet already registered.
     *
     * @throws FacecheckException.NoFace a selfie without a face (the message says which)
     * @throws FacecheckException.PoorQuality a selfie failed a quality gate, or (reason {@code inconsistent}) the
     *     selfies do not all show the same person
     * @throws FacecheckException.SpoofSuspected a selfie looks like a photo or a screen
     * @throws FacecheckException.InvalidState reason {@code already_enrolled}: a face is enrolled on this device
     *     (erase it first); {@code erasure_due}: the retention period wiped the face and {@link #erase} has to finish
     *     that erasure first ({@link Status#isErasureDue()}); {@code erased}: this engine's vault was erased and its
     *     key retired (open a new engine with a new key)
     * @throws FacecheckException.InvalidInput fewer than 3 or more than 5 selfies, an unreadable image, bad ids
     */
    public String enroll(String driverId, String fleetId, List<byte[]> selfies) throws FacecheckException {
        checkNotNull(driverId, "driverId");
        checkNotNull(fleetId, "fleetId");
        return NativeBridge.enroll(handle, driverId, fleetId, frames(selfies), null, null, -1);
    }

    /**
     * {@link #enroll(String, String, List)} for a fleet service: the registration statement also carries the binding
     * of the dispatcher's enrollment code and the driver's consent (the notice version shown, and when it was
     * accepted), which the service requires. Keep both: a statement that goes stale before the service has it is
     * signed again with them ({@link #registrationStatement(String, String, long)}).
     *
     * @param enrollmentCode the code as typed or scanned (the fleet reads it leniently: case, dashes)
     * @param consentNotice the notice version the driver accepted (the code lookup's {@code consent_notice})
     * @param consentAcceptedAt when the driver accepted it, unix seconds
     */
    public String enroll(String driverId, String fleetId, List<byte[]> selfies, String enrollmentCode,
            String consentNotice, long consentAcceptedAt) throws FacecheckException {
        checkNotNull(driverId, "driverId");
        checkNotNull(fleetId, "fleetId");
        checkNotNull(enrollmentCode, "enrollmentCode");
        checkNotNull(consentNotice, "consentNotice");
        return NativeBridge.enroll(handle, driverId, fleetId, frames(selfies), enrollmentCode, consentNotice,
                consentAcceptedAt);
    }

    /**
     * One block check-in: the best of 1 to 8 frames is checked for quality and liveness and matched against the
     * enrolled template, and the decision signed together with the server's challenge. Every decision is a result
     * whose {@link CheckInResult#token()} goes to the server; see {@link CheckInResult#outcome()}.
     *
     * <p>Anti-rollback: {@code lastCounter} is the challenge's {@code last_counter}, the highest counter the fleet
     * accepted from this device key. Nothing is signed at or below it: a vault older than that (restored from a copy)
     * throws {@link FacecheckException.VaultRolledBack}, and the driver has to enroll again.
     *
     * @param nonce the server's challenge for this check-in, 1 to 256 bytes
     * @param blockId the block or shift being checked into, 1 to 256 bytes
     * @param lastCounter the fleet's last counter from the same challenge, or -1 if it sent none
     * @throws FacecheckException.VaultRolledBack the vault is older than what the fleet has seen; nothing was signed
     * @throws FacecheckException.InvalidState reason {@code not_enrolled}
     * @throws FacecheckException.InvalidInput an empty or too long challenge, no frame or too many, an unreadable
     *     image, a counter below -1
     */
    public CheckInResult checkIn(String nonce, String blockId, long lastCounter, List<byte[]> frames)
            throws FacecheckException {
        checkNotNull(nonce, "nonce");
        checkNotNull(blockId, "blockId");
        return NativeBridge.checkIn(handle, nonce, blockId, lastCounter, frames(frames));
    }

    /**
     * {@link #checkIn(String, String, long, List)} without the fleet's counter (-1): for a challenge that carries
     * none; a restored vault then goes unnoticed here, and only the fleet's counter check catches it.
     */
    public CheckInResult checkIn(String nonce, String blockId, List<byte[]> frames) throws FacecheckException {
        return checkIn(nonce, blockId, -1, frames);
    }

    /**
     * One check-in with the active challenge (when the fleet's challenge asks for {@code liveness: active}): the
     * camera recorded the driver facing it, then turning the head as {@link #activeChallenge} asked, and the frames
     * go here in the order they were captured. The library signs {@code match} only if one face, the same person
     * throughout, showed the poses in order and in time, the frontal face passed the passive liveness check, and it
     * is the enrolled driver; the token says {@code lvm: active}. A sequence that fails the active check is signed
     * {@code spoof_suspected} with the reason in {@link CheckInResult#activeReason()}, and counts as a failed attempt
     * toward the lock-out (there are no retakes: ask the fleet for a new challenge). Anti-rollback as {@link
     * #checkIn(String, String, long, List)}.
     *
     * @param frames 1 to 64 frames, JPEG or NV21, capture times increasing, 64 MiB in all
     * @throws FacecheckException.VaultRolledBack the vault is older than what the fleet has seen; nothing was signed
     * @throws FacecheckException.InvalidState reason {@code not_enrolled}
     * @throws FacecheckException.InvalidInput an empty or too long challenge, no frame or too many, a frame out of
     *     bounds or unreadable, capture times not increasing, a counter below -1
     */
    public CheckInResult checkInActive(String nonce, String blockId, long lastCounter, List<Frame> frames)
            throws FacecheckException {
        checkNotNull(nonce, "nonce");
        checkNotNull(blockId, "blockId");
        checkNotNull(frames, "frames");
        Frame[] array = frames.toArray(new Frame[0]);
        byte[][] data = new byte[array.length][];
        int[] shapes = new int[array.length * 4];
        long[] times = new long[array.length];
        for (int i = 0; i < array.length; i++) {
            checkNotNull(array[i], "frame " + (i + 1));
            data[i] = array[i].data();
            array[i].writeShape(shapes, i * 4);
            times[i] = array[i].timeMillis();
        }
        return NativeBridge.checkInActive(handle, nonce, blockId, lastCounter, data, shapes, times);
    }

    /** Whether a face is enrolled, since when, until when it is kept, and any lock-out. */
    public Status status() throws FacecheckException {
        return NativeBridge.status(handle);
    }

    /**
     * Erases the driver's data for good and returns the signed erasure receipt for the fleet server (keep it until
     * the server has it). The native library signs the receipt, then destroys the vault file and the device key in
     * it, and wipes its copy of the key-encryption key; this engine then refuses every call that needs a vault
     * ({@link FacecheckException.InvalidState} reason {@code erased}).
     *
     * <p><b>The caller must then delete the key-encryption key</b> (on Android the wrapped key and its Keystore
     * alias): no earlier copy of the vault file can be opened without it. To enroll again, close this engine and
     * open a new one with a new key. This also finishes an erasure the retention period began
     * ({@link Status#isErasureDue()}).
     *
     * @param nonce the server's challenge, or null with {@code blockId} null when erasing offline
     * @throws FacecheckException.InvalidState reason {@code not_enrolled} when the device has no vault, {@code erased}
     *     when it was already erased through this engine
     */
    public String erase(String nonce, String blockId) throws FacecheckException {
        return NativeBridge.erase(handle, nonce, blockId);
    }

    /** Erases offline: {@code erase(null, null)}. */
    public String erase() throws FacecheckException {
        return erase(null, null);
    }

    /** Another device registration statement (JWS) for the current device key, dated now. */
    public String registrationStatement() throws FacecheckException {
        return NativeBridge.registrationStatement(handle, null, null, -1);
    }

    /**
     * Another registration statement for the current device key, dated now, with the enrollment code and consent
     * the enrollment was given: what replaces a statement that went stale before the fleet service had it.
     */
    public String registrationStatement(String enrollmentCode, String consentNotice, long consentAcceptedAt)
            throws FacecheckException {
        checkNotNull(enrollmentCode, "enrollmentCode");
        checkNotNull(consentNotice, "consentNotice");
        return NativeBridge.registrationStatement(handle, enrollmentCode, consentNotice, consentAcceptedAt);
    }

    /**
     * A request for a person at the fleet to look at a check-in (JWS, signed by the device key): it names the
     * check-in by the hash of its token, never the token itself, and has its own random id (the same request sent
     * twice is one review).
     *
     * @param checkInToken the disputed check-in's token, or null
     * @param reason {@code no_match}, {@code spoof_suspected}, {@code locked_out} or {@code other}
     * @throws FacecheckException.InvalidInput an unknown reason, or a token that is not a JWS
     * @throws FacecheckException.InvalidState reason {@code erased} or {@code not_enrolled} (no vault, no key)
     */
    public String reviewRequest(String checkInToken, String reason) throws FacecheckException {
        checkNotNull(reason, "reason");
        return NativeBridge.reviewRequest(handle, checkInToken, reason);
    }

    /** The device's raw 32-byte Ed25519 public key. */
    public byte[] devicePublicKey() throws FacecheckException {
        return NativeBridge.devicePublicKey(handle);
    }

    /** Releases the models and the vault. Safe to call more than once and from any thread. */
    @Override
    public void close() {
        NativeBridge.close(handle);
    }

    /** Reads a stream to its end and closes it (java.io only: {@code java.nio.file} is not on Android 23). */
    public static byte[] readAll(InputStream in) throws IOException {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) != -1; ) {
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        } finally {
            in.close();
        }
    }

    private static byte[][] frames(List<byte[]> frames) {
        checkNotNull(frames, "frames");
        byte[][] array = frames.toArray(new byte[0][]);
        for (int i = 0; i < array.length; i++) {
            checkNotNull(array[i], "frame " + (i + 1));
        }
        return array;
    }

    private static void checkNotNull(Object value, String name) {
        if (value == null) {
            throw new NullPointerException(name + " is null");
        }
    }
}
