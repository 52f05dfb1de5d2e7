package com.facecheck.app

import android.content.Intent
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import com.facecheck.api.CheckInResult
import java.util.Arrays

/**
 * Block check-in: fetch a challenge from the fleet server, take a selfie, verify it on the phone, upload only the
 * signed token, and show the result. On failure: the actionable reason, a retry (with a new challenge, since each
 * is single-use), the lock-out explained, and a request for human review.
 */
class CheckInActivity : CameraScreen() {
    private lateinit var settings: Settings
    private lateinit var status: TextView
    private lateinit var blockField: EditText
    private lateinit var start: Button
    private lateinit var take: Button
    private lateinit var message: TextView
    private lateinit var retry: Button
    private lateinit var review: Button
    private var challenge: FleetClient.Challenge? = null
    private var lastToken: String? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        settings = Settings(this)
        camera = FrontCamera(this)
        status = text("", 14f)
        blockField = field(R.string.block_id_hint, null)
        start = button(getString(R.string.checkin_start)) { fetchChallenge() }
        take = button(getString(R.string.checkin_take)) { capture() }
        message = text("", 18f)
        retry = button(getString(R.string.checkin_retry)) { fetchChallenge() }
        review = button(getString(R.string.checkin_review)) { requestReview() }
        val settingsButton = button(getString(R.string.settings_open)) {
            startActivity(Intent(this, SettingsActivity::class.java))
        }
        camera.preview.matchWidth(dp(360))
        setScreen(
            scrolling(column(status, blockField, start, camera.preview, take, message, retry, review, settingsButton))
        )
        showIdle()
    }

    override fun onStart() {
        super.onStart()
        refreshStatus()
    }

    private fun refreshStatus() {
        Background.run(this, { Engine.get(this).status() }, { error -> status.text = explain(error) }) { s ->
            if (!s.isEnrolled) {
                startActivity(Intent(this, EnrollActivity::class.java))
                finish()
                return@run
            }
            val locked = s.lockedUntil()
            status.text = if (s.isLockedUntilReenrolled) getString(R.string.result_locked_until_reenrolled)
            else if (locked != null) getString(R.string.result_locked_out, formatTime(locked))
            else getString(R.string.status_enrolled_since, formatDate(s.enrolledAt()!!))
        }
    }

    private fun showIdle() {
        camera.preview.visibility = View.GONE
        take.visibility = View.GONE
        retry.visibility = View.GONE
        review.visibility = View.GONE
        start.visibility = View.VISIBLE
        start.isEnabled = true
    }

    /** Sends what could not be sent before, then asks the server for this check-in's challenge. */
    private fun fetchChallenge() {
        val block = blockField.text.toString().trim()
        if (block.isEmpty()) return
        start.isEnabled = false
        retry.visibility = View.GONE
        review.visibility = View.GONE
        message.setText(R.string.checkin_fetching)
        Background.run(this, {
            val client = FleetClient(settings.serverUrl)
            settings.pendingRegistration?.let { client.registerDevice(it); settings.pendingRegistration = null }
            settings.pendingErasure?.let { client.uploadErasure(it); settings.pendingErasure = null }
            client.challenge(settings.driverId ?: "", block)
        }, { error ->
            message.text = explain(error)
            showIdle()
        }) { fetched ->
            challenge = fetched
            message.text = ""
            start.visibility = View.GONE
            camera.preview.visibility = View.VISIBLE
            take.visibility = View.VISIBLE
            take.isEnabled = true
            startCamera()
        }
    }

    private fun capture() {
        val current = challenge ?: return
        take.isEnabled = false
        message.setText(R.string.checkin_verifying)
        camera.takePicture { jpeg ->
            stopCamera()
            Background.run(this, {
                val result = try {
                    Engine.get(this).checkIn(current.nonce, current.block, current.lastCounter, listOf(jpeg))
                } finally {
                    Arrays.fill(jpeg, 0.toByte())
                }
                val uploaded = try {
                    FleetClient(settings.serverUrl).uploadCheckIn(result.token())
                    null
                } catch (e: java.io.IOException) {
                    e.message ?: e.toString()
                }
                Pair(result, uploaded)
            }, { error ->
                message.text = explain(error)
                challenge = null
                showFailure()
            }) { (result, uploadError) ->
                challenge = null
                lastToken = result.token()
                show(result, uploadError)
            }
        }
    }

    private fun show(result: CheckInResult, uploadError: String?) {
        camera.preview.visibility = View.GONE
        take.visibility = View.GONE
        val text = when (result.outcome()) {
            CheckInResult.MATCH -> getString(R.string.result_match, blockField.text.toString().trim())
            CheckInResult.NO_MATCH -> getString(R.string.result_no_match)
            CheckInResult.SPOOF_SUSPECTED -> getString(R.string.result_spoof)
            CheckInResult.NO_FACE -> getString(R.string.result_no_face)
            CheckInResult.LOCKED_OUT -> lockText(result)
            else -> result.message() // poor_quality: the core's advice for the failed gate
        }
        val lockNote = if (result.isLockedOut && result.outcome() != CheckInResult.LOCKED_OUT) {
            "\n\n" + lockText(result)
        } else ""
        val uploadNote = if (uploadError != null) "\n\n" + getString(R.string.upload_failed, uploadError) else ""
        message.text = text + lockNote + uploadNote
        if (result.isMatch && uploadError == null) {
            showIdle()
            refreshStatus()
        } else {
            showFailure() // a retry while locked out is signed as locked_out, and the message says until when
            refreshStatus()
        }
    }

    private fun lockText(result: CheckInResult): String {
        val locked = result.lockedUntil()
        return if (locked == null) getString(R.string.result_locked_until_reenrolled)
        else getString(R.string.result_locked_out, formatTime(locked))
    }

    private fun showFailure() {
        camera.preview.visibility = View.GONE
        take.visibility = View.GONE
        start.visibility = View.GONE
        retry.visibility = View.VISIBLE
        review.visibility = View.VISIBLE
        review.isEnabled = true
    }

    /** Asks for a person to look at this check-in; the last token is the evidence (it holds no biometric data). */
    private fun requestReview() {
        review.isEnabled = false
        val block = blockField.text.toString().trim()
        Background.run(this, {
            FleetClient(settings.serverUrl).requestReview(settings.driverId ?: "", block, lastToken)
        }, { error ->
            review.isEnabled = true
            message.text = explain(error)
        }) {
            message.setText(R.string.checkin_review_sent)
        }
    }
}
