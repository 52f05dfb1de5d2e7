package com.facecheck.hosttest

import com.facecheck.api.Facecheck
import com.facecheck.api.FacecheckException
import com.facecheck.api.Frame
import com.facecheck.flow.CaptureHint
import com.facecheck.flow.CheckInFlow
import com.facecheck.flow.Device
import com.facecheck.flow.EnrollmentInvite
import com.facecheck.flow.FleetApi
import com.facecheck.flow.FlowException
import com.facecheck.flow.FlowState
import com.facecheck.flow.HttpAnswer
import com.facecheck.flow.HttpTransport
import com.facecheck.flow.Nv21
import com.facecheck.flow.SeenFace
import com.facecheck.flow.StatementKind
import com.facecheck.flow.Transport
import org.json.JSONArray
import java.io.File
import java.io.IOException
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URL
import java.security.SecureRandom
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess

/**
 * The app's check-in flow (`android/flow`, plain Kotlin) on the host JVM, against the real fleet service (the
 * `facecheck-fleet` binary, started here on a loopback port with a SQLite database) and the real native library:
 * enrollment by the dispatcher's code, check-ins with the fleet's verdict, a lost answer, a dead network and a
 * killed process, a restarted server, the clock check, a restored vault, a refused statement, an erasure made
 * offline, the lock-out and a review request. What the fleet recorded is read back with `facecheck-fleet admin`.
 *
 *     FlowTestsKt LIB REPO FACECHECK_FLEET WORK_DIR
 */
fun main(args: Array<String>) {
    if (args.size != 4) {
        System.err.println("usage: FlowTestsKt LIB REPO FACECHECK_FLEET WORK_DIR")
        exitProcess(2)
    }
    Facecheck.loadLibrary(File(args[0]).absolutePath)
    val suite = FlowSuite(File(args[1]), File(args[2]), File(args[3]))
    try {
        suite.run()
    } finally {
        suite.fleet.stop()
    }
    println("flow: ${suite.passed} passed, ${suite.failed} failed")
    exitProcess(if (suite.failed == 0 && suite.passed > 0) 0 else 1)
}

/** The fleet service as a child process on a fixed loopback port, which it keeps across restarts. */
class FleetProcess(private val binary: File, work: File) {
    private val db = "sqlite:" + File(work, "fleet.db").path
    private val port = ServerSocket(0).use { it.localPort }
    private val log = File(work, "fleet.log")
    private var process: Process? = null
    val url = "http://127.0.0.1:$port"

    fun start() {
        check(process == null)
        process = ProcessBuilder(binary.path, "serve", "--db", db, "--listen", "127.0.0.1:$port")
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (System.nanoTime() < deadline) {
            try {
                val connection = URL("$url/healthz").openConnection() as HttpURLConnection
                if (connection.responseCode == 200) return
            } catch (e: IOException) {
                Thread.sleep(100)
            }
        }
        throw AssertionError("the fleet service did not start: " + log.readText())
    }

    fun stop() {
        process?.destroy()
        process?.waitFor(10, TimeUnit.SECONDS)
        process = null
    }

    /** `facecheck-fleet admin ARGS --db DB`: its standard output. */
    fun admin(vararg args: String): String {
        val process = ProcessBuilder(listOf(binary.path, "admin") + args + listOf("--db", db))
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = String(process.inputStream.readBytes())
        check(process.waitFor() == 0) { "facecheck-fleet admin ${args.joinToString(" ")} failed" }
        return out
    }

    /** A new enrollment code for `driver`: its QR payload. */
    fun enrollmentCode(fleet: String, driver: String): String =
        admin("enrollment-code", "--fleet", fleet, "--driver", driver, "--server", url, "--qr-payload").lines()[1]

    /** The check-ins the fleet recorded for `driver`, newest first. */
    fun checkins(driver: String): JSONArray = JSONArray(admin("checkins", "--driver", driver, "--json"))
}

/** A network the test can cut: down (nothing sent), or losing answers (sent, the answer never arrives). */
class Network(private val real: Transport) : Transport {
    @Volatile var mode = "up"

    override fun exchange(method: String, path: String, jsonBody: String?): HttpAnswer {
        if (mode == "down" || (mode == "registrations-down" && path == "/v1/registrations")) {
            throw IOException("network unreachable")
        }
        val answer = real.exchange(method, path, jsonBody)
        if (mode == "lose-answers") throw IOException("connection reset after the request was sent")
        return answer
    }
}

/** The phone's engine on a key-encryption key that an erasure retires, as the app's Keystore-backed one does. */
class TestDevice(private val models: File, private val vault: File) : Device {
    private var kek = ByteArray(32).also { SecureRandom().nextBytes(it) }
    private var engine: Facecheck? = null

    override fun engine(): Facecheck = engine ?: Facecheck.open(Facecheck.directory(models), vault, kek).also { engine = it }

    override fun retireKey() {
        close()
        java.util.Arrays.fill(kek, 0.toByte())
        kek = ByteArray(32).also { SecureRandom().nextBytes(it) }
    }

    /** What a killed process leaves: nothing in memory. */
    fun close() {
        engine?.close()
        engine = null
    }
}

class FlowSuite(private val repo: File, fleetBinary: File, private val work: File) : Tally() {
    val fleet: FleetProcess
    private val fleetId = "fleet-west"
    private val driver = "driver-0815"
    private val appDir = File(work, "app")
    private val vault = File(work, "driver.vault")
    private val network: Network
    private val device: TestDevice
    private var flow: CheckInFlow

    init {
        work.deleteRecursively()
        work.mkdirs()
        fleet = FleetProcess(fleetBinary, work)
        network = Network(HttpTransport(fleet.url))
        device = TestDevice(File(repo, "models"), vault)
        flow = newFlow()
    }

    private fun newFlow(now: () -> Long = { System.currentTimeMillis() / 1000 }) =
        CheckInFlow(appDir, device, { server -> check(server == fleet.url) { server }; FleetApi(network) }, now)

    private fun photos(vararg names: String) = names.map { File(repo, "crates/facecheck/tests/fixtures/$it").readBytes() }



    private fun now() = System.currentTimeMillis() / 1000

    /** The notice version the app shows and records (`consent_version` in the app's strings.xml). */
    private val appNotice: String = Regex("<string name=\"consent_version\"[^>]*>([^<]+)</string>")
        .find(File(repo, "android/app/src/main/res/values/strings.xml").readText())!!.groupValues[1]

    /** Enrolls by a new code, with the consent the app records: the fleet must accept the app's notice version. */
    private fun enroll(): FlowState {
        val invite = EnrollmentInvite.parse(fleet.enrollmentCode(fleetId, driver))
        return flow.enroll(invite, appNotice, now(), photos("obama.jpg", "obama1.jpg", "obama2.jpg"))
    }

    /** One check-in into `block` with `photo`, network up. */
    private fun checkIn(block: String, photo: String): FlowState {
        check(flow.startCheckIn(block) is FlowState.AwaitingSelfie) { flow.state.toString() }
        return flow.submitSelfies(photos(photo))
    }

    /**
     * A head-turn challenge for `block` whose poses the fixtures can show (turned left and right; none tipped up):
     * each challenge asks for one of six orders, two of them left and right only, so a few are asked for.
     */
    private fun headTurnChallenge(block: String): FlowState.AwaitingHeadTurn {
        repeat(60) {
            val state = flow.startCheckIn(block)
            check(state is FlowState.AwaitingHeadTurn) { state.toString() }
            check(state.poses == Facecheck.activeChallenge(state.nonce).toList()) { "the poses are the core's" }
            if ("up" !in state.poses) return state
        }
        throw AssertionError("no challenge of left and right in 60")
    }

    /** The head-turn fixtures (`frontal`, `left`, `right`) as frames 400 ms apart. */
    private fun headTurnFrames(names: List<String>): List<Frame> = names.mapIndexed { i, name ->
        Frame.jpeg(File(repo, "android/host-tests/fixtures/head-turn/$name.jpg").readBytes(), 400L * i)
    }

    private fun decided(state: FlowState, verdict: String): FlowState.Decided {
        if (state !is FlowState.Decided || state.verdict != verdict) {
            throw AssertionError("expected the fleet's $verdict, got $state")
        }
        return state
    }

    fun run() {
        test("capture hints: light first, then one face, its size and place, as the camera reports them") {
            val centred = SeenFace(-300, -350, 300, 350) // 30 % of the frame, centred
            check(CaptureHint.of(listOf(centred), 120) == CaptureHint.READY)
            check(CaptureHint.of(listOf(centred), 20) == CaptureHint.MORE_LIGHT)
            check(CaptureHint.of(emptyList(), 20) == CaptureHint.MORE_LIGHT) { "in the dark, light is what to fix" }
            check(CaptureHint.of(emptyList(), 120) == CaptureHint.NO_FACE)
            check(CaptureHint.of(listOf(centred, SeenFace(500, 500, 700, 700)), 120) == CaptureHint.SEVERAL_FACES)
            check(CaptureHint.of(listOf(SeenFace(-100, -120, 100, 120)), 120) == CaptureHint.MOVE_CLOSER)
            check(CaptureHint.of(listOf(SeenFace(-900, -950, 900, 950)), 120) == CaptureHint.MOVE_BACK)
            check(CaptureHint.of(listOf(SeenFace(300, -300, 900, 300)), 120) == CaptureHint.CENTRE)
            check(CaptureHint.of(null, 120) == CaptureHint.READY) { "no face detection on the phone: light only" }
            check(CaptureHint.of(listOf(centred), null) == CaptureHint.READY) { "no frame yet" }
            // The preview's brightness from its NV21 luma plane (the chroma after it does not count).
            val dark = ByteArray(64 * 48 * 3 / 2) { if (it < 64 * 48) 20 else 200.toByte() }
            check(CaptureHint.meanLuma(dark, 64, 48) == 20)
            val half = ByteArray(64 * 48 * 3 / 2) { if (it < 64 * 24) 255.toByte() else 0 }
            check(CaptureHint.meanLuma(half, 64, 48) == 127) { "${CaptureHint.meanLuma(half, 64, 48)}" }
        }
        test("a burst's preview frame turned upright: NV21 luma and chroma moved as the core moves them") {
            // 4 x 2 pixels: luma 0..7 row by row, then one row of two V,U pairs.
            val frame = byteArrayOf(0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 20, 21)
            // A quarter turn clockwise: 2 x 4, the stored bottom-left pixel at the top left (as frame.rs's R90).
            check(Nv21.rotate(frame, 4, 2, 90).toList() == listOf<Byte>(4, 0, 5, 1, 6, 2, 7, 3, 10, 11, 20, 21))
            check(Nv21.rotate(frame, 4, 2, 180).toList() == listOf<Byte>(7, 6, 5, 4, 3, 2, 1, 0, 20, 21, 10, 11))
            check(Nv21.rotate(frame, 4, 2, 270).toList() == listOf<Byte>(3, 7, 2, 6, 1, 5, 0, 4, 20, 21, 10, 11))
            val random = ByteArray(8 * 6 * 3 / 2).also { SecureRandom().nextBytes(it) }
            val turned = Nv21.rotate(Nv21.rotate(random, 8, 6, 90), 6, 8, 90)
            check(Nv21.rotate(Nv21.rotate(turned, 8, 6, 90), 6, 8, 90).contentEquals(random)) { "four quarter turns" }
            check(Nv21.rotate(random, 8, 6, 180).contentEquals(turned)) { "two quarter turns are a half turn" }
            check(Nv21.rotate(random, 8, 6, 0).contentEquals(random))
            expect<IllegalArgumentException> { Nv21.rotate(random, 8, 6, 45) }
            expect<IllegalArgumentException> { Nv21.rotate(random, 7, 6, 90) }
        }
        test("the dispatcher's QR code read from a photo by the native library, parsed into an invite") {
            val invite = EnrollmentInvite.parse(Facecheck.readQrCode(photos("enrollment_qr.jpg").single()))
            check(invite.server == "https://fleet.example.org/facecheck" && invite.code == "7K2M-9QXD-4RTV")
            check(invite.fleet == "fleet-west" && invite.driver == "driver-0815" && invite.fleetKey!!.length == 43)
            // What the app's scan button tells apart (Messages.explain): no code, a blurred one, another QR code.
            for ((photo, reason) in listOf(
                "obama.jpg" to "no_code",
                "enrollment_qr_blurred.jpg" to "unreadable",
                "qr_not_enrollment.jpg" to "not_enrollment"
            )) {
                val e = expect<FacecheckException.QrCodeNotRead> { Facecheck.readQrCode(photos(photo).single()) }
                check(e.reason() == reason) { "$photo: ${e.reason()}" }
            }
            expect<FacecheckException.InvalidInput> { Facecheck.readQrCode("not a picture".toByteArray()) }
            expect<IllegalArgumentException> { EnrollmentInvite.parse("https://example.org/?code=1") }
        }
        fleet.start()
        test("enrollment refuses a consent notice other than the fleet's, before anything is enrolled") {
            val invite = EnrollmentInvite.parse(fleet.enrollmentCode(fleetId, driver))
            val e = expect<FlowException> { flow.enroll(invite, "an-old-notice", now(), photos("obama.jpg")) }
            check(e.reason == "consent_outdated") { e.reason }
            check(!vault.exists() && flow.profile == null && flow.state is FlowState.NotEnrolled)
        }
        test("enroll by the dispatcher's QR code with the app's notice: fleet, driver, server provisioned, registered") {
            check(enroll() is FlowState.Ready) { flow.state.toString() }
            val profile = flow.profile!!
            check(profile.fleet == fleetId && profile.driver == driver && profile.server == fleet.url)
            check(flow.outbox.isEmpty()) { "the registration is still waiting" }
        }
        test("check in: the fleet's verdict (accepted), recorded once by the fleet") {
            val state = decided(checkIn("block-0600", "exif_orientation6.jpg"), "accepted")
            check(state.outcome == "match")
            val recorded = fleet.checkins(driver)
            check(recorded.length() == 1 && recorded.getJSONObject(0).getString("verdict") == "accepted") { recorded }
        }
        test("the answer lost mid-upload: queued; sent again on start, the fleet's stored answer counts as delivered") {
            check(flow.startCheckIn("block-0700") is FlowState.AwaitingSelfie)
            network.mode = "lose-answers"
            check(flow.submitSelfies(photos("obama2.jpg")) is FlowState.Queued) { flow.state.toString() }
            network.mode = "up"
            decided(flow.reconcile(), "accepted")
            check(fleet.checkins(driver).length() == 2) { "the fleet recorded the check-in twice" }
        }
        test("no network at upload, then the process killed: a new process restores the check-in and delivers it") {
            check(flow.startCheckIn("block-0800") is FlowState.AwaitingSelfie)
            network.mode = "down"
            check(flow.submitSelfies(photos("obama2.jpg")) is FlowState.Queued) { flow.state.toString() }
            check(flow.outbox.items().single().kind == StatementKind.CHECKIN)
            device.close() // the process dies: nothing in memory survives
            network.mode = "up"
            flow = newFlow()
            check(flow.state is FlowState.Queued) { "restored ${flow.state}" }
            decided(flow.reconcile(), "accepted")
            check(flow.outbox.isEmpty() && fleet.checkins(driver).length() == 3)
        }
        test("the screen recreated between the challenge and the selfie: the challenge is still there") {
            check(flow.startCheckIn("block-0900") is FlowState.AwaitingSelfie)
            flow = newFlow()
            val state = flow.state
            check(state is FlowState.AwaitingSelfie && state.block == "block-0900") { state.toString() }
            decided(flow.submitSelfies(photos("obama2.jpg")), "accepted")
        }
        test("the fleet service down: the check-in fails as offline, nothing is signed; back up, it works") {
            fleet.stop()
            val state = flow.startCheckIn("block-1000")
            check(state is FlowState.Failed && state.reason == "offline") { state.toString() }
            fleet.start()
            decided(checkIn("block-1000", "obama2.jpg"), "accepted")
        }
        test("the phone's clock 20 minutes off the fleet's: the flow refuses to check in (clock_wrong)") {
            val skewed = newFlow { System.currentTimeMillis() / 1000 + 1200 }
            val state = skewed.startCheckIn("block-1100")
            check(state is FlowState.Failed && state.reason == "clock_wrong") { state.toString() }
            flow = newFlow()
            flow.dismiss()
        }
        test("a vault restored from an older copy: VaultRolledBack, nothing signed (vault_rolled_back)") {
            device.close()
            val current = File(work, "current.vault")
            val older = File(work, "older.vault")
            vault.copyTo(older, overwrite = true)
            decided(checkIn("block-1200", "obama2.jpg"), "accepted")
            device.close()
            vault.copyTo(current, overwrite = true)
            older.copyTo(vault, overwrite = true) // the phone's owner puts the old copy back
            check(flow.startCheckIn("block-1300") is FlowState.AwaitingSelfie)
            val state = flow.submitSelfies(photos("obama2.jpg"))
            check(state is FlowState.Failed && state.reason == "vault_rolled_back") { state.toString() }
            check(flow.outbox.isEmpty())
            device.close()
            current.copyTo(vault, overwrite = true)
            flow.dismiss()
        }
        test("a refused statement is shown once and blocks nothing; an erasure made offline reaches the fleet later") {
            check(flow.startCheckIn("block-1400") is FlowState.AwaitingSelfie)
            network.mode = "down"
            check(flow.submitSelfies(photos("obama2.jpg")) is FlowState.Queued)
            fleet.admin("revoke", flow.profile!!.kid) // the dispatcher revokes the phone's key meanwhile
            check(flow.erase() is FlowState.NotEnrolled) // "reset this phone", offline
            check(!vault.exists() && flow.profile == null)
            check(flow.outbox.items().map { it.kind } == listOf(StatementKind.CHECKIN, StatementKind.ERASURE))
            network.mode = "up"
            flow.reconcile()
            check(flow.outbox.isEmpty()) { flow.outbox.items().map { it.kind }.toString() }
            val notices = flow.takeNotices()
            check(notices.map { it.kind to it.code } == listOf(
                StatementKind.CHECKIN to "key_not_active",
                StatementKind.ERASURE to "delivered"
            )) { notices.map { it.kind to it.code }.toString() }
            check(flow.takeNotices().isEmpty()) { "a notice was shown twice" }
            val devices = fleet.admin("devices")
            check(devices.contains("erased")) { devices }
        }
        test("enroll again with a new code; the registration lost before it was stored is signed again") {
            network.mode = "registrations-down"
            check(enroll() is FlowState.Ready) { flow.state.toString() }
            val waiting = flow.outbox.items().single()
            check(waiting.kind == StatementKind.REGISTRATION)
            flow.outbox.remove(waiting.id) // as if the process had died before storing it
            network.mode = "up"
            val first = flow.startCheckIn("block-1500")
            check(first is FlowState.Failed && first.reason == "not_registered_yet") { first.toString() }
            check(flow.outbox.isEmpty()) { "the statement signed again was not delivered" }
            decided(checkIn("block-1500", "obama2.jpg"), "accepted")
        }
        test("a fleet that asks for the head turn: the core's poses, the turn checked on the phone, an active match") {
            fleet.admin("policy", "--fleet", fleetId, "--liveness", "active")
            try {
                val wrong = headTurnChallenge("block-1550")
                val e = expect<FlowException> { flow.submitSelfies(photos("obama2.jpg")) }
                check(e.reason == "wrong_liveness_check") { e.reason }
                // The right frames in the wrong order: signed as a failed liveness check, with what to do differently.
                val reversed = headTurnFrames(listOf("frontal") + wrong.poses.reversed())
                val failed = decided(flow.submitHeadTurn(reversed), "review")
                check(failed.outcome == "spoof_suspected" && failed.retake == "pose_not_reached") { failed.toString() }
                headTurnChallenge("block-1550")
                val state = decided(flow.submitHeadTurn(headTurnFrames(listOf("frontal") + (flow.state as FlowState.AwaitingHeadTurn).poses)), "accepted")
                check(state.outcome == "match") { state.toString() }
                val recorded = fleet.checkins(driver)
                // This block's two check-ins (the list is by time, to the second: another key's can sort between them).
                val methods = (0 until recorded.length()).map { recorded.getJSONObject(it) }
                    .filter { it.getString("block") == "block-1550" }.map { it.getString("liveness_method") }
                check(methods == listOf("active", "active")) { recorded.toString() }
            } finally {
                fleet.admin("policy", "--fleet", fleetId, "--liveness", "passive")
            }
            check(flow.startCheckIn("block-1560") is FlowState.AwaitingSelfie) { "the fleet went back to passive" }
            flow.dismiss()
        }
        test("another person: the phone signs no_match and the fleet puts it up for review; the 5th locks the phone") {
            for (attempt in 1..5) {
                val state = decided(checkIn("block-1600", "biden.jpg"), "review")
                check(state.outcome == "no_match" && state.reason == "no_match") { state.toString() }
            }
            val locked = flow.startCheckIn("block-1600")
            check(locked is FlowState.LockedOut && locked.until > now()) { locked.toString() }
        }
        test("a review request during the lock-out reaches the fleet's review queue") {
            val state = flow.state
            check(state is FlowState.LockedOut)
            check(flow.requestReview("locked_out")) { "not delivered" }
            check(flow.takeNotices().single().kind == StatementKind.REVIEW)
            val reviews = fleet.admin("reviews")
            check(reviews.contains("driver_request")) { reviews }
        }
    }
}
