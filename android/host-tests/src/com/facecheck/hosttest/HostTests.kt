package com.facecheck.hosttest

import com.facecheck.api.CheckInResult
import com.facecheck.api.Facecheck
import com.facecheck.api.FacecheckException
import com.facecheck.api.Frame
import com.facecheck.api.ModelSource
import com.facecheck.api.Status
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.io.IOException
import java.security.SecureRandom
import java.util.Base64
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO
import kotlin.system.exitProcess

/**
 * Host JVM tests of the JNI bridge: the real x86_64 `libfacecheck_jni.so`, loaded with `System.load`, driven through
 * the same `com.facecheck.api` wrapper the app uses, on real photos. Tokens are checked by the fleet side's Rust
 * verifier (the `facecheck` CLI: `registry add`, `attest verify`).
 *
 *     HostTestsKt LIB REPO FACECHECK_CLI WORK_DIR
 *
 * Prints one line per test and `N passed, M failed`; exits non-zero on any failure. The tests run in order and
 * share one driver's vault, as the app would use it: enroll, check in, lock out, erase (the app then deletes the
 * key), enroll again with a new key (a new device key the fleet must register), reopen.
 */
fun main(args: Array<String>) {
    if (args.size != 4) {
        System.err.println("usage: HostTestsKt LIB REPO FACECHECK_CLI WORK_DIR")
        exitProcess(2)
    }
    Facecheck.loadLibrary(File(args[0]).absolutePath)
    val suite = Suite(File(args[1]), File(args[2]), File(args[3]))
    suite.run()
    println("${suite.passed} passed, ${suite.failed} failed")
    exitProcess(if (suite.failed == 0 && suite.passed > 0) 0 else 1)
}

class Suite(private val repo: File, private val cli: File, private val work: File) : Tally() {

    private val fixtures = File(repo, "crates/facecheck/tests/fixtures")
    private val models: ModelSource = Facecheck.directory(File(repo, "models"))
    private val vault = File(work, "driver.vault")
    private val registry = File(work, "registry.json")
    private val counters = File(work, "counters.json")
    private var kek = ByteArray(32).also { SecureRandom().nextBytes(it) }
    private val driver = "driver-42"
    private val fleet = "fleet-7"
    private lateinit var engine: Facecheck

    private fun photo(name: String): ByteArray = File(fixtures, name).readBytes()

    private fun photos(vararg names: String): List<ByteArray> = names.map { photo(it) }


    fun run() {
        work.mkdirs()
        vault.delete()
        registry.delete()
        counters.delete()
        openAndRefuse()
        screening()
        enrollment()
        checkIns()
        activeCheckIns()
        inputBounds()
        lockOut()
        concurrency()
        erasure()
        reopen()
        panics()
        closing()
        surface()
    }

    // --- open -----------------------------------------------------------------------------------------------

    private fun openAndRefuse() {
        test("modelFileNames lists the four shipped models") {
            val names = Facecheck.modelFileNames()
            check(names.size == 4) { names.toList().toString() }
            for (name in names) check(File(repo, "models/$name").isFile) { "models/$name is missing" }
        }
        test("open with a 16-byte key throws InvalidInput") {
            expect<FacecheckException.InvalidInput> { Facecheck.open(models, vault, ByteArray(16)) }
        }
        test("open with model bytes that are not the pinned models throws InvalidInput") {
            val wrong = ModelSource { name -> if (name.startsWith("yunet")) "not a model".toByteArray() else models.read(name) }
            val e = expect<FacecheckException.InvalidInput> { Facecheck.open(wrong, vault, kek) }
            check(e.message!!.contains("does not match the manifest")) { e.message!! }
        }
        test("open with a model file missing throws IOException") {
            expect<IOException> { Facecheck.open(Facecheck.directory(work), vault, kek) }
        }
        test("open loads the models; before enrollment there is no vault") {
            val started = System.nanoTime()
            engine = Facecheck.open(models, vault, kek)
            println("       (open took ${(System.nanoTime() - started) / 1_000_000} ms)")
            val status = engine.status()
            check(!status.hasVault() && !status.isEnrolled()) { status.toString() }
            check(status.enrolledAt() == null && status.lockedUntil() == null && status.retentionDeadline() == null)
            check(!vault.exists()) { "open must not create the vault" }
        }
        test("check-in before enrollment throws InvalidState(not_enrolled)") {
            val e = expect<FacecheckException.InvalidState> { engine.checkIn("n", "b", photos("obama.jpg")) }
            check(e.reason() == "not_enrolled") { e.reason() }
        }
        test("erase before enrollment throws InvalidState(not_enrolled)") {
            val e = expect<FacecheckException.InvalidState> { engine.erase() }
            check(e.reason() == "not_enrolled") { e.reason() }
        }
    }

    // --- screening: the enrollment guidance -------------------------------------------------------------------

    private fun screening() {
        test("screen: empty bytes throw InvalidInput") {
            expect<FacecheckException.InvalidInput> { engine.screen(ByteArray(0)) }
        }
        test("screen: garbage bytes throw InvalidInput") {
            expect<FacecheckException.InvalidInput> { engine.screen(ByteArray(1000) { (it * 31).toByte() }) }
        }
        test("screen: a truncated JPEG and a 60000x60000 PNG header throw InvalidInput") {
            expect<FacecheckException.InvalidInput> { engine.screen(photo("truncated.jpg")) }
            expect<FacecheckException.InvalidInput> { engine.screen(photo("huge_dimensions.png")) }
        }
        test("screen: a picture without a face throws NoFace") {
            expect<FacecheckException.NoFace> { engine.screen(blankJpeg()) }
        }
        test("screen: a usable selfie passes") {
            engine.screen(photo("obama.jpg"))
            engine.screen(photo("image_T1.jpg"))
        }
        test("screen: a printed-photo attack throws SpoofSuspected") {
            expect<FacecheckException.SpoofSuspected> { engine.screen(photo("image_F1.jpg")) }
        }
        test("screen: a tiny face throws PoorQuality with its reason") {
            val e = expect<FacecheckException.PoorQuality> { engine.screen(shrunk("obama.jpg", 8)) }
            check(e.reason() == "face_too_small") { e.reason() }
            check(e.message!!.isNotEmpty())
        }
        test("readQrCode: the enrollment payload of a photo of the code; typed errors for the rest") {
            val payload = Facecheck.readQrCode(photo("enrollment_qr.jpg"))
            check(payload.startsWith("facecheck-enroll:1?server=") && payload.contains("&code=7K2M-9QXD-4RTV")) { payload }
            val reasons = listOf("blank" to blankJpeg(), "blurred" to photo("enrollment_qr_blurred.jpg"),
                "another code" to photo("qr_not_enrollment.jpg")).map { (what, picture) ->
                what to expect<FacecheckException.QrCodeNotRead> { Facecheck.readQrCode(picture) }.reason()
            }
            check(reasons == listOf("blank" to "no_code", "blurred" to "unreadable", "another code" to "not_enrollment")) {
                reasons.toString()
            }
            expect<FacecheckException.InvalidInput> { Facecheck.readQrCode(photo("huge_dimensions.png")) }
        }
    }

    // --- enrollment -------------------------------------------------------------------------------------------

    private fun enrollment() {
        test("enroll with 2 selfies throws InvalidInput, nothing stored") {
            expect<FacecheckException.InvalidInput> { engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg")) }
            check(!vault.exists())
        }
        test("enroll with a printed photo among the selfies throws SpoofSuspected, nothing stored") {
            expect<FacecheckException.SpoofSuspected> {
                engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "image_F1.jpg"))
            }
            check(!vault.exists())
        }
        test("enroll with an empty frame throws InvalidInput, nothing stored") {
            expect<FacecheckException.InvalidInput> {
                engine.enroll(driver, fleet, listOf(photo("obama.jpg"), ByteArray(0), photo("obama1.jpg")))
            }
            check(!vault.exists())
        }
        test("enroll with two people throws PoorQuality(inconsistent), nothing stored") {
            val e = expect<FacecheckException.PoorQuality> {
                engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "biden.jpg"))
            }
            check(e.reason() == "inconsistent") { e.reason() }
            check(!vault.exists())
        }
        test("enroll Obama: registration statement accepted by the fleet registry, status enrolled") {
            val before = nowSeconds()
            val statement = engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "exif_orientation6.jpg"))
            check(statement.split('.').size == 3) { "not a compact JWS" }
            cli("registry", "add", "--registry", registry.path, "--fleet", fleet, "--driver", driver, statement)
            val status = engine.status()
            check(status.hasVault() && status.isEnrolled()) { status.toString() }
            check(status.driverId() == driver && status.fleetId() == fleet)
            check(status.enrolledAt()!! in before..nowSeconds() + 1) { status.toString() }
            val days = (status.retentionDeadline()!! - status.enrolledAt()!!) / 86_400
            check(days == status.retentionDays().toLong() && days == 365L) { "retention $days days" }
            check(engine.devicePublicKey().size == 32)
            check(registry.readText().contains(status.deviceKeyId()))
        }
        test("devicePublicKey is the key the registration statement carries (header jwk.x)") {
            check(statementKey(engine.registrationStatement()).contentEquals(engine.devicePublicKey()))
        }
        test("enroll again while enrolled throws InvalidState(already_enrolled), the device key unchanged") {
            val key = engine.devicePublicKey()
            val e = expect<FacecheckException.InvalidState> {
                engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "obama2.jpg"))
            }
            check(e.reason() == "already_enrolled") { e.reason() }
            check(engine.status().isEnrolled() && engine.devicePublicKey().contentEquals(key))
        }
        test("a new registration statement is accepted too (same device key)") {
            val again = File(work, "registry2.json")
            again.delete()
            cli("registry", "add", "--registry", again.path, "--fleet", fleet, engine.registrationStatement())
            check(again.readText().contains(engine.status().deviceKeyId()))
        }
    }

    // --- check-in ---------------------------------------------------------------------------------------------

    private var matchToken = ""

    private fun checkIns() {
        test("check-in with another Obama photo: match, and the Rust verifier accepts the token") {
            val result = engine.checkIn("nonce-match-1", "block-1", photos("obama2.jpg"))
            check(result.outcome() == CheckInResult.MATCH && result.isMatch) { result.toString() }
            check(result.lockedUntil() == null && result.retakeReason() == null)
            check(result.livenessMethod() == CheckInResult.PASSIVE && result.activeReason() == null) { result.toString() }
            result.requireMatch()
            val claims = verify(result.token(), "nonce-match-1")
            check(claims.contains("\"res\": \"match\"") || claims.contains("\"res\":\"match\"")) { claims }
            matchToken = result.token()
        }
        test("the token carries no score or image data: only the documented claims") {
            val payload = String(Base64.getUrlDecoder().decode(matchToken.split('.')[1]))
            val names = Regex("\"([a-z]+)\":").findAll(payload).map { it.groupValues[1] }.toSet()
            val allowed = setOf("iss", "sub", "aud", "blk", "nonce", "iat", "ctr", "res", "live", "lvm", "att", "mdl", "pol", "ver")
            check(allowed.containsAll(names) && names.size == allowed.size) { names.toString() }
        }
        test("the verifier rejects the same token replayed") {
            expectCliFailure("attest", "verify", "--registry", registry.path, "--nonce", "nonce-match-1",
                "--state", counters.path, matchToken)
        }
        test("the verifier rejects the token against another nonce") {
            expectCliFailure("attest", "verify", "--registry", registry.path, "--nonce", "another-nonce", matchToken)
        }
        test("check-in with biden.jpg: no_match, verified") {
            val result = engine.checkIn("nonce-biden", "block-1", photos("biden.jpg"))
            check(result.outcome() == CheckInResult.NO_MATCH) { result.toString() }
            check(verify(result.token(), "nonce-biden").contains("no_match"))
            expect<FacecheckException.NoMatch> { result.requireMatch() }
        }
        test("check-in with a printed-photo attack: spoof_suspected, verified") {
            val result = engine.checkIn("nonce-spoof", "block-1", photos("image_F1.jpg"))
            check(result.outcome() == CheckInResult.SPOOF_SUSPECTED) { result.toString() }
            check(verify(result.token(), "nonce-spoof").contains("spoof_suspected"))
            expect<FacecheckException.SpoofSuspected> { result.requireMatch() }
        }
        test("check-in with a picture without a face: no_face, a retake") {
            val result = engine.checkIn("nonce-noface", "block-1", listOf(blankJpeg()))
            check(result.outcome() == CheckInResult.NO_FACE && result.retakeReason() == "no_face") { result.toString() }
            check(result.message().isNotEmpty())
            expect<FacecheckException.NoFace> { result.requireMatch() }
        }
        test("check-in with a tiny face: poor_quality with its reason") {
            val result = engine.checkIn("nonce-small", "block-1", listOf(shrunk("obama2.jpg", 8)))
            check(result.outcome() == CheckInResult.POOR_QUALITY) { result.toString() }
            check(result.retakeReason() == "face_too_small") { result.toString() }
            val e = expect<FacecheckException.PoorQuality> { result.requireMatch() }
            check(e.reason() == "face_too_small")
        }
        test("check-in picks the best of several frames") {
            val result = engine.checkIn("nonce-multi", "block-1", listOf(blankJpeg(), photo("obama2.jpg")))
            check(result.isMatch) { result.toString() }
        }
        test("check-in with empty or garbage frames throws InvalidInput, nothing signed") {
            expect<FacecheckException.InvalidInput> { engine.checkIn("n", "b", listOf(ByteArray(0))) }
            expect<FacecheckException.InvalidInput> { engine.checkIn("n", "b", listOf(ByteArray(64) { 7 })) }
            expect<FacecheckException.InvalidInput> { engine.checkIn("n", "b", listOf(photo("text.jpg"))) }
            expect<FacecheckException.InvalidInput> { engine.checkIn("n", "b", emptyList()) }
        }
        test("check-in with an empty nonce or block id throws InvalidInput") {
            expect<FacecheckException.InvalidInput> { engine.checkIn("", "b", photos("obama2.jpg")) }
            expect<FacecheckException.InvalidInput> { engine.checkIn("n", "", photos("obama2.jpg")) }
        }
        test("the fleet's last counter: at the vault's, signed above it; above it, VaultRolledBack and nothing signed") {
            val first = engine.checkIn("nonce-ctr-1", "block-1", photos("obama2.jpg"))
            val counter = counter(first.token())
            val next = engine.checkIn("nonce-ctr-2", "block-1", counter, photos("obama2.jpg"))
            check(next.isMatch && counter(next.token()) == counter + 1) { next.toString() }
            // The fleet has seen more from this key than the vault holds: a restored copy.
            val e = expect<FacecheckException.VaultRolledBack> {
                engine.checkIn("nonce-ctr-3", "block-1", counter + 5, photos("obama2.jpg"))
            }
            check(e.message!!.contains("restored from a backup")) { e.message!! }
            val after = engine.checkIn("nonce-ctr-4", "block-1", counter + 1, photos("obama2.jpg"))
            check(counter(after.token()) == counter + 2) { "the refused check-in used a counter" }
            expect<FacecheckException.InvalidInput> { engine.checkIn("n", "b", -2, photos("obama2.jpg")) }
        }
    }

    // --- the active check-in: the head turn the fleet's nonce asks for ----------------------------------------

    private val headTurns = File(repo, "android/host-tests/fixtures/head-turn")

    /** The head-turn fixtures (`frontal`, `left`, `right`) as JPEG frames 400 ms apart. */
    private fun turn(vararg names: String): List<Frame> =
        names.mapIndexed { i, name -> Frame.jpeg(File(headTurns, "$name.jpg").readBytes(), 1_000L + 400L * i) }

    private fun activeCheckIns() {
        test("activeChallenge: the poses the nonce determines, as the core's test vectors say") {
            check(Facecheck.activeChallenge("nonce-0").toList() == listOf("left", "right"))
            check(Facecheck.activeChallenge("N").toList() == listOf("left", "up"))
            check(Facecheck.activeChallenge("").toList() == listOf("up", "right"))
            val seen = (0 until 60).map { Facecheck.activeChallenge("nonce-$it").toList() }.toSet()
            check(seen.all { it.size == 2 && it[0] != it[1] && it.all { p -> p in setOf("left", "right", "up") } })
            check(seen.size == 6) { "the six orders: $seen" }
        }
        test("active check-in with the turns out of order: spoof_suspected (pose_not_reached), signed lvm active") {
            check(Facecheck.activeChallenge("nonce-active-6").toList() == listOf("right", "left"))
            val failures = engine.status().failures()
            val result = engine.checkInActive("nonce-active-6", "block-1", -1, turn("frontal", "left", "right"))
            check(result.outcome() == CheckInResult.SPOOF_SUSPECTED) { result.toString() }
            check(result.activeReason() == "pose_not_reached" && result.livenessMethod() == CheckInResult.ACTIVE)
            check(result.message().contains("turns asked for were not seen")) { result.message() }
            check(payload(result.token()).contains("\"lvm\":\"active\"")) { payload(result.token()) }
            check(verify(result.token(), "nonce-active-6").contains("spoof_suspected"))
            check(engine.status().failures() == failures + 1) { "a failed active check counts toward the lock-out" }
        }
        test("active check-in facing the camera, then left, then right as asked: match, lvm active, verified") {
            check(Facecheck.activeChallenge("nonce-active-2").toList() == listOf("left", "right"))
            val result = engine.checkInActive("nonce-active-2", "block-1", -1, turn("frontal", "left", "right"))
            check(result.isMatch && result.activeReason() == null) { result.toString() }
            check(result.livenessMethod() == CheckInResult.ACTIVE)
            check(verify(result.token(), "nonce-active-2").contains("match"))
            check(payload(result.token()).contains("\"lvm\":\"active\"")) { payload(result.token()) }
            check(engine.status().failures() == 0) { "a match clears the failures" }
        }
        test("active check-in from NV21 preview buffers stored a quarter turn anticlockwise (rotation 90): match") {
            val frames = listOf("frontal", "left", "right").mapIndexed { i, name ->
                val upright = ImageIO.read(File(headTurns, "$name.jpg"))
                Frame.nv21(nv21(quarterTurnAnticlockwise(upright)), upright.height, upright.width, 90, 400L * i)
            }
            check(Facecheck.activeChallenge("nonce-active-nv21-0").toList() == listOf("left", "right"))
            val result = engine.checkInActive("nonce-active-nv21-0", "block-1", -1, frames)
            check(result.isMatch && result.livenessMethod() == CheckInResult.ACTIVE) { result.toString() }
            frames.forEach { it.wipe() }
        }
        test("active check-in: frames out of bounds or out of time order throw InvalidInput, nothing signed") {
            val before = counter(engine.checkIn("nonce-active-ctr-1", "block-1", photos("obama2.jpg")).token())
            val frontal = File(headTurns, "frontal.jpg").readBytes()
            val bad = listOf(
                listOf(Frame.nv21(ByteArray(640 * 480), 640, 480, 0, 0)), // a quarter of the bytes missing
                listOf(Frame.nv21(ByteArray(3000 * 2000 * 3 / 2), 3000, 2000, 0, 0)), // larger than 1920x1080
                listOf(Frame.nv21(ByteArray(641 * 480 * 3 / 2), 641, 480, 0, 0)), // an odd side
                listOf(Frame.jpeg(frontal, 500), Frame.jpeg(frontal, 400)), // time going back
                listOf(Frame.jpeg(ByteArray(0), 0)),
                emptyList(),
                (0..64).map { Frame.jpeg(frontal, it.toLong()) } // 65 frames, one more than the most
            )
            for (frames in bad) {
                expect<FacecheckException.InvalidInput> { engine.checkInActive("nonce-active-bad", "block-1", -1, frames) }
            }
            expect<IllegalArgumentException> { Frame.nv21(ByteArray(640 * 480 * 3 / 2), 640, 480, 45, 0) }
            expect<IllegalArgumentException> { Frame.jpeg(frontal, -1) }
            // Straight to the native method: shapes that do not match the frames, and an unknown format.
            val handle = Facecheck::class.java.getDeclaredField("handle").also { it.isAccessible = true }.getLong(engine)
            expect<FacecheckException.InvalidInput> {
                nativeBridge("checkInActive", handle, "n", "b", -1L, arrayOf(frontal), IntArray(3), LongArray(1))
            }
            expect<FacecheckException.InvalidInput> {
                nativeBridge("checkInActive", handle, "n", "b", -1L, arrayOf(frontal), intArrayOf(7, 0, 0, 0), LongArray(1))
            }
            val after = counter(engine.checkIn("nonce-active-ctr-2", "block-1", photos("obama2.jpg")).token())
            check(after == before + 1) { "a refused active check-in used a counter: $before then $after" }
        }
        test("active check-in: a frame wiped by the app reads as no picture at all") {
            val frames = turn("frontal", "left", "right")
            frames.forEach { it.wipe() }
            expect<FacecheckException.InvalidInput> { engine.checkInActive("nonce-active-7", "block-1", -1, frames) }
        }
    }

    // --- input bounds: checked before the bridge copies a frame out of the JVM ---------------------------------

    private fun inputBounds() {
        val limit = 16 shl 20 // facecheck::decode::MAX_ENCODED_BYTES
        test("screen: a selfie over 16 MiB throws InvalidInput naming its size") {
            val e = expect<FacecheckException.InvalidInput> { engine.screen(padded("obama.jpg", limit + 1)) }
            check(e.message!!.contains("${limit + 1} bytes, more than $limit")) { e.message!! }
        }
        test("check-in: a frame over 16 MiB throws InvalidInput naming it, nothing signed") {
            val frames = listOf(photo("obama2.jpg"), padded("obama2.jpg", limit + 1))
            val e = expect<FacecheckException.InvalidInput> { engine.checkIn("nonce-big", "block-1", frames) }
            check(e.message!!.contains("selfie 2: ") && e.message!!.contains("more than $limit")) { e.message!! }
        }
        test("check-in: frames over 64 MiB in all throw InvalidInput, nothing signed") {
            val frames = (1..5).map { padded("obama2.jpg", 13 shl 20) }
            val e = expect<FacecheckException.InvalidInput> { engine.checkIn("nonce-bulk", "block-1", frames) }
            check(e.message!!.contains("more than ${64 shl 20}")) { e.message!! }
        }
        test("check-in with 9 frames and enroll with 6 selfies are refused by their count before a frame is read") {
            // Straight to the native methods, with null frames (which the wrapper would refuse): reading any of
            // them would fail differently, on the null.
            val handle = Facecheck::class.java.getDeclaredField("handle").also { it.isAccessible = true }.getLong(engine)
            val e = expect<FacecheckException.InvalidInput> {
                nativeBridge("checkIn", handle, "n", "b", -1L, arrayOfNulls<ByteArray>(9))
            }
            check(e.message!!.contains("1 to 8 frames, 9 given")) { e.message!! }
            val f = expect<FacecheckException.InvalidInput> {
                nativeBridge("enroll", handle, driver, fleet, arrayOfNulls<ByteArray>(6), null, null, -1L)
            }
            check(f.message!!.contains("3 to 5 selfies, 6 given")) { f.message!! }
            check(engine.status().isEnrolled())
        }
        test("a consent without its time, an unknown review reason, a review about a non-token: InvalidInput") {
            expect<FacecheckException.InvalidInput> { engine.registrationStatement("7K2M-9QXD-4RTV", "notice-v1", -1) }
            expect<FacecheckException.InvalidInput> { engine.reviewRequest(null, "because") }
            expect<FacecheckException.InvalidInput> { engine.reviewRequest("not a token", "no_match") }
            val statement = payload(engine.registrationStatement("7K2M-9QXD-4RTV", "notice-v1", 1_750_000_000))
            check(statement.contains("\"enc\"") && statement.contains("\"ntc\":\"notice-v1\"")) { statement }
            val request = payload(engine.reviewRequest(null, "other"))
            check(request.contains("\"why\":\"other\"") && request.contains("\"ref\":\"\"")) { request }
        }
    }

    // --- lock-out ---------------------------------------------------------------------------------------------

    private fun lockOut() {
        test("6 failed attempts: the 5th since the last match locks check-in for a minute, the 6th is locked_out") {
            check(engine.checkIn("nonce-reset", "block-2", photos("obama2.jpg")).isMatch) // clears the failures
            val results = (1..6).map { engine.checkIn("nonce-fail-$it", "block-2", photos("biden.jpg")) }
            for (i in 0 until 4) {
                check(results[i].outcome() == CheckInResult.NO_MATCH && results[i].lockedUntil() == null) {
                    "attempt ${i + 1}: ${results[i]}"
                }
            }
            val until = results[4].lockedUntil() ?: error("attempt 5 did not lock: ${results[4]}")
            check(results[4].outcome() == CheckInResult.NO_MATCH)
            check(until - results[4].issuedAt() == 60L) { "locked for ${until - results[4].issuedAt()} s" }
            check(!results[4].isLockedUntilReenrolled && results[4].isLockedOut) { results[4].toString() }
            // Later readings estimate the end again from the time left on the boot-time clock: the same second, or
            // the next when the two clocks' seconds do not tick together.
            val sameEnd = { estimate: Long? -> estimate != null && estimate - until in 0L..1L }
            check(results[5].outcome() == CheckInResult.LOCKED_OUT && sameEnd(results[5].lockedUntil())) {
                results[5].toString()
            }
            val e = expect<FacecheckException.LockedOut> { results[5].requireMatch() }
            check(sameEnd(e.lockedUntil()))
            check(verify(results[5].token(), "nonce-fail-6").contains("locked_out"))
            val status = engine.status()
            check(sameEnd(status.lockedUntil()) && status.failures() == 5) { status.toString() }
        }
        test("while locked out even the right face gets locked_out") {
            val result = engine.checkIn("nonce-locked", "block-2", photos("obama2.jpg"))
            check(result.outcome() == CheckInResult.LOCKED_OUT) { result.toString() }
        }
    }

    // --- threads ----------------------------------------------------------------------------------------------

    private fun concurrency() {
        test("8 threads calling one engine at once: every call completes, counters stay unique") {
            val tokens = Collections.synchronizedList(ArrayList<String>())
            val errors = Collections.synchronizedList(ArrayList<Throwable>())
            val start = CountDownLatch(1)
            val threads = (1..8).map { t ->
                Thread {
                    try {
                        start.await()
                        repeat(3) { i ->
                            engine.status()
                            if (t % 2 == 0) engine.screen(photo("obama.jpg"))
                            tokens.add(engine.checkIn("nonce-t$t-$i", "block-3", photos("obama2.jpg")).token())
                        }
                    } catch (e: Throwable) {
                        errors.add(e)
                    }
                }.also { it.start() }
            }
            start.countDown()
            threads.forEach { it.join(120_000) }
            check(errors.isEmpty()) { errors.toString() }
            check(tokens.size == 24) { "${tokens.size} tokens" }
            val counters = tokens.map { counter(it) }
            check(counters.toSet().size == 24) { "repeated counters: $counters" }
        }
    }

    // --- erasure ----------------------------------------------------------------------------------------------

    private fun erasure() {
        var keyBefore = ""
        val copy = File(work, "before-erasure.vault")
        test("erase with only half a challenge throws InvalidInput and erases nothing") {
            expect<FacecheckException.InvalidInput> { engine.erase("nonce", null) }
            check(engine.status().isEnrolled())
        }
        test("erase: a signed receipt the verifier accepts; the vault file is gone and the engine retired") {
            keyBefore = engine.status().deviceKeyId()
            vault.copyTo(copy, overwrite = true) // a backup the phone's owner kept
            val receipt = engine.erase("nonce-erase", "erase")
            check(verify(receipt, "nonce-erase").contains("erased"))
            check(!vault.exists()) { "the vault file (and the device key in it) is still there" }
            val status = engine.status()
            check(!status.hasVault() && !status.isEnrolled() && !status.isErasureDue) { status.toString() }
            val calls = listOf<() -> Unit>(
                { engine.checkIn("n", "b", photos("obama2.jpg")) },
                { engine.erase() },
                { engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "exif_orientation6.jpg")) },
                { engine.devicePublicKey() }
            )
            for (call in calls) {
                val e = expect<FacecheckException.InvalidState> { call() }
                check(e.reason() == "erased") { e.reason() }
            }
        }
        test("after the app deletes the key, the backup from before the erasure opens with nothing it holds") {
            engine.close()
            java.util.Arrays.fill(kek, 0.toByte())
            kek = ByteArray(32).also { SecureRandom().nextBytes(it) } // the key a new enrollment is sealed with
            copy.copyTo(vault, overwrite = true)
            expect<FacecheckException.WrongKey> { Facecheck.open(models, vault, kek) }
            check(vault.delete() && copy.delete())
        }
        test("a new engine with the new key: a refused enrollment writes nothing") {
            engine = Facecheck.open(models, vault, kek)
            check(!engine.status().hasVault())
            val e = expect<FacecheckException.PoorQuality> {
                engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "biden.jpg"))
            }
            check(e.reason() == "inconsistent") { e.reason() }
            check(!vault.exists())
        }
        var newStatement = ""
        test("enroll after erasure returns a new registration statement with a new device key") {
            newStatement = engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "exif_orientation6.jpg"))
            val newKey = statementKey(newStatement)
            check(engine.devicePublicKey().contentEquals(newKey))
            val status = engine.status()
            check(status.isEnrolled() && status.deviceKeyId() != keyBefore) { status.toString() }
            check(!registry.readText().contains(status.deviceKeyId())) { "the new key is already registered" }
        }
        test("the verifier rejects the new key's token until the fleet registers the new statement, then accepts it") {
            val result = engine.checkIn("nonce-new-key", "block-5", photos("obama2.jpg"))
            check(result.isMatch) { result.toString() }
            expectCliFailure("attest", "verify", "--registry", registry.path, "--nonce", "nonce-new-key",
                "--state", counters.path, result.token())
            cli("registry", "add", "--registry", registry.path, "--fleet", fleet, "--driver", driver, newStatement)
            check(verify(result.token(), "nonce-new-key").contains("match"))
        }
    }

    // --- reopening the vault ----------------------------------------------------------------------------------

    private fun reopen() {
        test("a second engine on the same vault throws InvalidState(vault_busy)") {
            val e = expect<FacecheckException.InvalidState> { Facecheck.open(models, vault, kek) }
            check(e.reason() == "vault_busy") { e.reason() }
        }
        test("after close, the vault reopens with its state; a wrong key throws WrongKey") {
            val before = engine.status()
            engine.close()
            val wrong = kek.copyOf().also { it[0] = (it[0] + 1).toByte() }
            expect<FacecheckException.WrongKey> { Facecheck.open(models, vault, wrong) }
            engine = Facecheck.open(models, vault, kek)
            val after = engine.status()
            check(after.isEnrolled() && after.deviceKeyId() == before.deviceKeyId()) { after.toString() }
            check(after.lockedUntil() == before.lockedUntil()) { "lock-out lost: $after" }
        }
        test("a corrupt vault throws VaultCorrupt and is left untouched") {
            val corrupt = File(work, "corrupt.vault")
            val bytes = vault.readBytes().copyOf(40)
            corrupt.writeBytes(bytes)
            expect<FacecheckException.VaultCorrupt> { Facecheck.open(models, corrupt, kek) }
            check(corrupt.readBytes().contentEquals(bytes))
        }
        test("a tampered vault throws WrongKey (AES-GCM cannot tell the two apart)") {
            val tampered = File(work, "tampered.vault")
            val bytes = vault.readBytes()
            bytes[bytes.size - 1] = (bytes[bytes.size - 1].toInt() xor 1).toByte()
            tampered.writeBytes(bytes)
            expect<FacecheckException.WrongKey> { Facecheck.open(models, tampered, kek) }
        }
    }

    // --- panics (test-only natives of the `testing` feature) --------------------------------------------------

    private fun panics() {
        test("a panic in native code becomes FacecheckException.Internal, and the engine keeps working") {
            val e = expect<FacecheckException.Internal> { NativeTesting.panic() }
            check(e.message!!.contains("panicked")) { e.message!! }
            check(engine.status().isEnrolled())
        }
        test("a panic holding an engine's lock: that engine throws Internal until it is reopened") {
            val handle = Facecheck::class.java.getDeclaredField("handle").also { it.isAccessible = true }.getLong(engine)
            expect<FacecheckException.Internal> { NativeTesting.panicHoldingLock(handle) }
            expect<FacecheckException.Internal> { engine.status() }
            expect<FacecheckException.Internal> { engine.checkIn("n", "b", photos("obama2.jpg")) }
            engine.close()
            engine = Facecheck.open(models, vault, kek)
            check(engine.status().isEnrolled())
        }
    }

    // --- closing ----------------------------------------------------------------------------------------------

    private fun closing() {
        test("close while other threads are calling: each call completes or throws InvalidState(closed)") {
            val unexpected = Collections.synchronizedList(ArrayList<String>())
            val sawClose = Collections.synchronizedList(ArrayList<Int>())
            val completed = java.util.concurrent.atomic.AtomicInteger()
            val started = CountDownLatch(4)
            val threads = (1..4).map { t ->
                Thread {
                    started.countDown()
                    for (i in 0 until 100_000) {
                        try {
                            engine.status()
                            engine.checkIn("nonce-c$t-$i", "block-4", photos("obama2.jpg"))
                            completed.incrementAndGet()
                        } catch (e: FacecheckException.InvalidState) {
                            if (e.reason() == "closed") sawClose.add(t) else unexpected.add(e.toString())
                            break
                        } catch (e: Throwable) {
                            unexpected.add(e.toString())
                            break
                        }
                    }
                }.also { it.start() }
            }
            started.await(10, TimeUnit.SECONDS)
            Thread.sleep(500)
            engine.close()
            threads.forEach { it.join(120_000) }
            check(unexpected.isEmpty()) { unexpected.toString() }
            check(sawClose.size == 4) { "threads that saw the close: $sawClose" }
            check(completed.get() > 0) { "no call completed before the close" }
        }
        test("close twice is safe; every call after close throws InvalidState(closed)") {
            engine.close()
            engine.close()
            val calls = listOf<() -> Unit>(
                { engine.status() },
                { engine.screen(photo("obama.jpg")) },
                { engine.checkIn("n", "b", photos("obama2.jpg")) },
                { engine.enroll(driver, fleet, photos("obama.jpg", "obama1.jpg", "obama2.jpg")) },
                { engine.erase() },
                { engine.registrationStatement() },
                { engine.devicePublicKey() }
            )
            for (call in calls) {
                val e = expect<FacecheckException.InvalidState> { call() }
                check(e.reason() == "closed") { e.reason() }
            }
        }
        test("after close the vault is free again") {
            val reopened = Facecheck.open(models, vault, kek)
            try {
                check(reopened.status().isEnrolled())
            } finally {
                reopened.close()
            }
        }
        test("null arguments throw NullPointerException before reaching native code") {
            val reopened = Facecheck.open(models, vault, kek)
            try {
                expect<NullPointerException> { reopened.checkIn("n", "b", listOf(photo("obama2.jpg"), null)) }
                expect<NullPointerException> { reopened.screen(null) }
                expect<NullPointerException> { reopened.checkInActive("n", "b", -1, listOf(null)) }
                expect<NullPointerException> { Frame.jpeg(null, 0) }
            } finally {
                reopened.close()
            }
        }
    }

    // --- the API surface ----------------------------------------------------------------------------------------

    private fun surface() {
        test("no public method returns an image, an embedding or a score") {
            val allowed = setOf<Class<*>>(
                Void.TYPE, java.lang.Boolean.TYPE, java.lang.Long.TYPE, Integer.TYPE, String::class.java,
                Array<String>::class.java, java.lang.Long::class.java, CheckInResult::class.java,
                Status::class.java, Facecheck::class.java, ModelSource::class.java, ByteArray::class.java
            )
            for (type in listOf(Facecheck::class.java, CheckInResult::class.java, Status::class.java)) {
                for (method in type.methods.filter { it.declaringClass == type }) {
                    check(method.returnType in allowed) { "${type.simpleName}.${method.name} returns ${method.returnType}" }
                    if (method.returnType == ByteArray::class.java) {
                        check(method.name == "devicePublicKey" || method.name == "readAll") { method.name }
                    }
                }
                for (field in type.declaredFields) {
                    check(field.type != java.lang.Float.TYPE && field.type != java.lang.Double.TYPE) { field.name }
                }
            }
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------


    private fun payload(token: String): String = String(Base64.getUrlDecoder().decode(token.split('.')[1]))

    /** The counter (`ctr`) a token was signed with. */
    private fun counter(token: String): Long = Regex("\"ctr\":(\\d+)").find(payload(token))!!.groupValues[1].toLong()

    /** The device public key a registration statement carries (its protected header's `jwk.x`). */
    private fun statementKey(statement: String): ByteArray {
        val header = String(Base64.getUrlDecoder().decode(statement.split('.')[0]))
        val x = Regex("\"x\":\"([A-Za-z0-9_-]+)\"").find(header)?.groupValues?.get(1) ?: error(header)
        return Base64.getUrlDecoder().decode(x)
    }

    /** Verifies a token with the Rust verifier (and records its counter); returns the claims it prints. */
    private fun verify(token: String, nonce: String): String =
        cli("attest", "verify", "--registry", registry.path, "--nonce", nonce, "--state", counters.path, token)

    private fun cli(vararg args: String): String {
        val process = ProcessBuilder(listOf(cli.path) + args).redirectErrorStream(true).start()
        val output = String(process.inputStream.readBytes())
        val code = process.waitFor()
        check(code == 0) { "facecheck ${args.take(2).joinToString(" ")} failed ($code): $output" }
        return output
    }

    private fun expectCliFailure(vararg args: String) {
        val process = ProcessBuilder(listOf(cli.path) + args).redirectErrorStream(true).start()
        process.inputStream.readBytes()
        check(process.waitFor() != 0) { "facecheck ${args.take(2).joinToString(" ")} accepted it" }
    }

    private fun nowSeconds(): Long = System.currentTimeMillis() / 1000

    /** Calls the package-private native method `name` of the bridge, throwing what it throws. */
    private fun nativeBridge(name: String, vararg args: Any?) {
        val method = Class.forName("com.facecheck.api.NativeBridge").declaredMethods.single { it.name == name }
        method.isAccessible = true
        try {
            method.invoke(null, *args)
        } catch (e: java.lang.reflect.InvocationTargetException) {
            throw e.targetException
        }
    }

    /** A fixture followed by zeros up to `size` bytes: still a valid JPEG (the bytes after its end are ignored). */
    private fun padded(name: String, size: Int): ByteArray = photo(name).copyOf(size)

    /** The picture turned a quarter anticlockwise: what a phone's sensor stores for a portrait frame. */
    private fun quarterTurnAnticlockwise(image: BufferedImage): BufferedImage {
        val turned = BufferedImage(image.height, image.width, BufferedImage.TYPE_INT_RGB)
        for (y in 0 until turned.height) for (x in 0 until turned.width) {
            turned.setRGB(x, y, image.getRGB(image.width - 1 - y, x))
        }
        return turned
    }

    /** An RGB picture (even sides) as an NV21 buffer: JFIF full-range YCbCr, each 2x2 block's chroma its mean. */
    private fun nv21(image: BufferedImage): ByteArray {
        val (w, h) = image.width to image.height
        val out = ByteArray(w * h * 3 / 2)
        fun rgb(x: Int, y: Int): Triple<Double, Double, Double> {
            val p = image.getRGB(x, y)
            return Triple(((p shr 16) and 255).toDouble(), ((p shr 8) and 255).toDouble(), (p and 255).toDouble())
        }
        fun byte(v: Double): Byte = Math.round(v).coerceIn(0, 255).toInt().toByte()
        for (y in 0 until h) for (x in 0 until w) {
            val (r, g, b) = rgb(x, y)
            out[y * w + x] = byte(0.299 * r + 0.587 * g + 0.114 * b)
        }
        for (by in 0 until h / 2) for (bx in 0 until w / 2) {
            var (cb, cr) = 0.0 to 0.0
            for ((dx, dy) in listOf(0 to 0, 1 to 0, 0 to 1, 1 to 1)) {
                val (r, g, b) = rgb(2 * bx + dx, 2 * by + dy)
                cb += 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
                cr += 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
            }
            out[w * h + by * w + bx * 2] = byte(cr / 4)
            out[w * h + by * w + bx * 2 + 1] = byte(cb / 4)
        }
        return out
    }

    /** A plain grey 640x480 JPEG: a valid picture with no face. */
    private fun blankJpeg(): ByteArray {
        val image = BufferedImage(640, 480, BufferedImage.TYPE_INT_RGB)
        val g = image.createGraphics()
        g.color = java.awt.Color(128, 128, 128)
        g.fillRect(0, 0, 640, 480)
        g.dispose()
        return jpeg(image)
    }

    /** A fixture scaled down `factor` times and pasted on a 640x480 grey frame: a face too small to judge. */
    private fun shrunk(name: String, factor: Int): ByteArray {
        val source = ImageIO.read(File(fixtures, name))
        val image = BufferedImage(640, 480, BufferedImage.TYPE_INT_RGB)
        val g = image.createGraphics()
        g.color = java.awt.Color(128, 128, 128)
        g.fillRect(0, 0, 640, 480)
        g.drawImage(source, 280, 200, source.width / factor, source.height / factor, null)
        g.dispose()
        return jpeg(image)
    }

    private fun jpeg(image: BufferedImage): ByteArray {
        val out = ByteArrayOutputStream()
        ImageIO.write(image, "jpg", out)
        return out.toByteArray()
    }
}
