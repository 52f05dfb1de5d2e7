package com.facecheck.app

import android.content.Intent
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import java.util.Arrays

/**
 * Enrollment: 3 to 5 front-camera selfies, each checked at once with the core's guidance (quality gates and
 * liveness: "too dark", "turn to face the camera", ...), then enrolled in one go. The selfies stay in memory and
 * are wiped after the call; the device registration statement goes to the fleet server.
 *
 * Every enrollment makes a new device key, also after the face was erased: the fleet has to register and approve
 * the new statement before the new face's check-ins count (a face is never enrolled under a key it registered).
 */
class EnrollActivity : CameraScreen() {
    private lateinit var settings: Settings
    private lateinit var driverField: EditText
    private lateinit var fleetField: EditText
    private lateinit var guidance: TextView
    private lateinit var take: Button
    private lateinit var finish: Button
    private val selfies = ArrayList<ByteArray>()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        settings = Settings(this)
        camera = FrontCamera(this)
        driverField = field(R.string.driver_id_hint, settings.driverId)
        fleetField = field(R.string.fleet_id_hint, settings.fleetId)
        guidance = text(getString(R.string.enroll_intro))
        take = button("") { takeSelfie() }
        finish = button("") { enroll() }
        camera.preview.matchWidth(dp(360))
        setScreen(scrolling(column(driverField, fleetField, camera.preview, guidance, take, finish)))
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
        camera.takePicture { jpeg ->
            Background.run(this, { Engine.get(this).screen(jpeg) }, { error ->
                Arrays.fill(jpeg, 0.toByte())
                guidance.text = explain(error)
                updateButtons()
            }) {
                selfies.add(jpeg)
                guidance.text = getString(R.string.enroll_good, selfies.size)
                updateButtons()
            }
        }
    }

    private fun enroll() {
        val driverId = driverField.text.toString().trim()
        val fleetId = fleetField.text.toString().trim()
        if (driverId.isEmpty() || fleetId.isEmpty()) {
            alert(getString(R.string.enroll_need_ids))
            return
        }
        settings.driverId = driverId
        settings.fleetId = fleetId
        take.isEnabled = false
        finish.isEnabled = false
        guidance.setText(R.string.enroll_working)
        val frames = ArrayList(selfies)
        Background.run(this, {
            var engine = Engine.get(this)
            if (engine.status().isErasureDue) {
                // The retention period wiped the face: finish that erasure (its receipt goes to the fleet before the
                // next check-in) before a new vault is made under a new key.
                settings.pendingErasure = Engine.erase(this)
                engine = Engine.get(this)
            }
            val status = engine.status()
            if (status.hasVault() && status.driverId() != driverId) {
                throw IllegalArgumentException(getString(R.string.enroll_other_driver, status.driverId()))
            }
            // After an erasure (a new vault key), this makes a new device key: its statement goes to the fleet.
            val statement = engine.enroll(driverId, fleetId, frames)
            try {
                FleetClient(settings.serverUrl).registerDevice(statement)
                settings.pendingRegistration = null
                true
            } catch (e: java.io.IOException) {
                settings.pendingRegistration = statement
                false
            }
        }, { error ->
            wipe()
            updateButtons()
            guidance.text = explain(error)
        }) { sent ->
            wipe()
            stopCamera()
            alert(getString(if (sent) R.string.enroll_done else R.string.enroll_done_offline)) {
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
