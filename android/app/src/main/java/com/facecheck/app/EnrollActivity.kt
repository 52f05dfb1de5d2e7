package com.facecheck.app

import android.content.Intent
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import com.facecheck.api.Facecheck
import com.facecheck.api.FacecheckException
import com.facecheck.flow.EnrollmentInvite
import com.facecheck.flow.FlowException
import com.facecheck.flow.FlowState
import java.util.Arrays

/**
 * Enrollment by the dispatcher's code: the fleet server's address and the code (which names the fleet and the
 * driver: nothing is typed by hand but these two), then 3 to 5 front-camera selfies, each checked at once with the
 * core's guidance (quality gates and liveness), enrolled in one go by the flow ([AppFlow]): the registration
 * statement carries the code and the driver's consent, goes into the outbox and is delivered (later, by
 * [OutboxJob], if there is no network). The selfies stay in memory and are wiped after the call.
 *
 * Every enrollment makes a new device key, also after the face was erased: the fleet has to register and approve
 * the new statement before the new face's check-ins count (a face is never enrolled under a key it registered).
 */
class EnrollActivity : CameraScreen() {
    private lateinit var settings: Settings
    private lateinit var serverField: EditText
    private lateinit var codeField: EditText
    private lateinit var guidance: TextView
    private lateinit var take: Button
    private lateinit var finish: Button
    private lateinit var scan: Button
    private val selfies = ArrayList<ByteArray>()
    /** The invite read from the dispatcher's QR code: it also names the fleet, the driver and the fleet's key. */
    private var scanned: EnrollmentInvite? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        settings = Settings(this)
        camera = FrontCamera(this)
        serverField = field(R.string.server_hint, settings.lastServer)
        codeField = field(R.string.code_hint, null)
        guidance = text(getString(R.string.enroll_intro))
        take = button("") { takeSelfie() }
        finish = button("") { enroll() }
        scan = button(getString(R.string.scan_code)) { scanCode() }
        camera.view.matchWidth(dp(360))
        setScreen(scrolling(column(scan, serverField, codeField, camera.view, hintView(), guidance, take, finish)))
        updateButtons()
        cameraFromStart()
    }

    override fun onDestroy() {
        wipe()
        super.onDestroy()
    }

    private fun updateButtons() {
        take.text = getString(R.string.enroll_take, selfies.size + 1)
        take.isEnabled = selfies.size < MAX
        finish.text = getString(R.string.enroll_finish, selfies.size)
        finish.isEnabled = selfies.size >= MIN
    }

    private fun takeSelfie() {
        take.isEnabled = false
        guidance.setText(R.string.enroll_working)
        camera.takePicture({ jpeg ->
            Background.run(this, { Engine.get(this).screen(jpeg) }, { error ->
                Arrays.fill(jpeg, 0.toByte())
                // Too dark for the core: the screen lights the face for the next selfie.
                lightNextShot = error is FacecheckException.PoorQuality && error.reason() == "too_dark"
                if (lightNextShot) startCamera()
                guidance.text = explain(error)
                updateButtons()
            }) {
                selfies.add(jpeg)
                lightNextShot = false
                guidance.text = getString(R.string.enroll_good, selfies.size)
                updateButtons()
            }
        }, {
            guidance.setText(R.string.camera_failed)
            updateButtons()
            startCamera()
        })
    }

    /**
     * Reads the dispatcher's QR code, held up to the front camera, on the phone: the server address and the code
     * fill the fields, and the fleet, driver and fleet key it names are checked against the service at enrollment.
     */
    private fun scanCode() {
        scan.isEnabled = false
        guidance.setText(R.string.scan_hold)
        camera.takePicture({ picture ->
            Background.run(this, {
                try {
                    EnrollmentInvite.parse(Facecheck.readQrCode(picture))
                } finally {
                    Arrays.fill(picture, 0.toByte())
                }
            }, { error ->
                // No code, an unreadable one or another QR code (the core's QrCodeNotRead: see explain), or an
                // enrollment code with a field the flow refuses.
                scan.isEnabled = true
                guidance.text = if (error is IllegalArgumentException) getString(R.string.scan_not_enrollment) else explain(error)
            }) { invite ->
                scan.isEnabled = true
                scanned = invite
                serverField.setText(invite.server)
                codeField.setText(invite.code)
                guidance.setText(R.string.enroll_intro)
            }
        }, {
            scan.isEnabled = true
            guidance.setText(R.string.camera_failed)
            startCamera()
        })
    }

    private fun enroll() {
        val typed = try {
            EnrollmentInvite.typed(serverField.text.toString(), codeField.text.toString())
        } catch (e: IllegalArgumentException) {
            alert(getString(R.string.enroll_need_code))
            return
        }
        val invite = scanned?.takeIf { it.server == typed.server && it.code == typed.code } ?: typed
        val notice = settings.consentVersion
        if (notice == null) {
            startActivity(Intent(this, ConsentActivity::class.java))
            finish()
            return
        }
        settings.lastServer = invite.server
        take.isEnabled = false
        finish.isEnabled = false
        guidance.setText(R.string.enroll_working)
        val frames = ArrayList(selfies)
        Background.run(this, {
            val flow = AppFlow.get(this)
            if (Engine.get(this).status().isErasureDue) {
                // The retention period wiped the face: finish that erasure (its receipt goes to the fleet through
                // the outbox) before a new vault is made under a new key.
                flow.erase()
            }
            flow.enroll(invite, notice, settings.consentAt, frames)
            OutboxJob.scheduleIfNeeded(this, flow)
            flow.state
        }, { error ->
            wipe()
            updateButtons()
            if (error is FlowException && error.reason == "consent_outdated") {
                alert(getString(R.string.consent_outdated)) {
                    startActivity(Intent(this, ConsentActivity::class.java))
                    finish()
                }
            } else {
                guidance.text = explain(error)
            }
        }) { state ->
            wipe()
            stopCamera()
            val text = when {
                state is FlowState.Failed -> explainFailure(state)
                AppFlow.get(this).outbox.isEmpty() -> getString(R.string.enroll_done)
                else -> getString(R.string.enroll_done_offline)
            }
            alert(text) {
                startActivity(Intent(this, CheckInActivity::class.java))
                finish()
            }
        }
    }

    /** Overwrites and forgets the selfies. */
    private fun wipe() {
        for (jpeg in selfies) Arrays.fill(jpeg, 0.toByte())
        selfies.clear()
    }

    companion object {
        private const val MIN = 3
        private const val MAX = 5
    }
}
