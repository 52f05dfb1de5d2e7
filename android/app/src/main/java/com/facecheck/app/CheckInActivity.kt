package com.facecheck.app

import android.content.Intent
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.HapticFeedbackConstants
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import com.facecheck.api.Frame
import com.facecheck.flow.CheckInFlow
import com.facecheck.flow.FlowState
import java.util.Arrays

/**
 * Block check-in. The screen renders the flow's state ([AppFlow], `android/flow`) and forwards the driver's
 * actions to it; the flow owns the protocol: a challenge from the fleet (the phone's clock checked against the
 * fleet's), the selfie checked and signed on the phone, the signed result stored in the outbox before it is sent,
 * and the **fleet's** verdict shown. The state survives rotation and a killed process: on start the flow finishes
 * what was left (and the outbox job sends what could not be sent).
 *
 * When the fleet asks for the active check ([FlowState.AwaitingHeadTurn]) the screen prompts "look at the camera",
 * then each of the challenge's poses in turn ([HEAD_TURN_LOOK_MS], [HEAD_TURN_POSE_MS]; announced for TalkBack,
 * with a tick), recording preview frames meanwhile; the frames go to the flow, which has the core decide.
 */
class CheckInActivity : CameraScreen() {
    private lateinit var status: TextView
    private lateinit var blockField: EditText
    private lateinit var start: Button
    private lateinit var take: Button
    private lateinit var headTurn: Button
    private lateinit var message: TextView
    private lateinit var hint: TextView
    private lateinit var retry: Button
    private lateinit var review: Button
    private val ticker = Handler(Looper.getMainLooper())

    /** The frames of the head turn being recorded, if one is (main thread only). */
    private var recording: MutableList<Frame>? = null
    private var busy = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        camera = FrontCamera(this)
        status = text("", 14f)
        blockField = field(R.string.block_id_hint, null)
        start = button(getString(R.string.checkin_start)) { startCheckIn() }
        take = button(getString(R.string.checkin_take)) { capture() }
        headTurn = button(getString(R.string.head_turn_start)) { recordHeadTurn() }
        message = text("", 18f)
        message.accessibilityLiveRegion = View.ACCESSIBILITY_LIVE_REGION_POLITE
        retry = button(getString(R.string.checkin_retry)) { act { it.dismiss() } }
        review = button(getString(R.string.checkin_review)) { requestReview() }
        val settingsButton = button(getString(R.string.settings_open)) {
            startActivity(Intent(this, SettingsActivity::class.java))
        }
        hint = hintView()
        camera.view.matchWidth(dp(360))
        setScreen(
            scrolling(
                column(status, blockField, start, camera.view, hint, take, headTurn, message, retry, review, settingsButton)
            )
        )
    }

    override fun onStart() {
        super.onStart()
        act { it.reconcile() }
    }

    override fun onStop() {
        ticker.removeCallbacksAndMessages(null)
        // A head turn cut short (the screen left mid-way) is dropped: its frames are wiped, nothing is signed.
        recording?.let { frames ->
            camera.stopRecording()
            frames.forEach { it.wipe() }
            recording = null
        }
        super.onStop()
    }

    /** Runs one step of the flow in the background, then renders the state it left (and any notices). */
    private fun act(step: (CheckInFlow) -> FlowState) {
        if (busy) return
        busy = true
        setButtonsEnabled(false)
        Background.run(this, {
            val flow = AppFlow.get(this)
            val state = step(flow)
            OutboxJob.scheduleIfNeeded(this, flow)
            Pair(state, flow.takeNotices())
        }, { error ->
            busy = false
            message.text = explain(error)
            render(AppFlow.get(this).state)
        }) { (state, notices) ->
            busy = false
            render(state)
            if (notices.isNotEmpty()) alert(notices.joinToString("\n\n") { noticeText(it) })
        }
    }

    private fun startCheckIn() {
        val block = blockField.text.toString().trim()
        if (block.isEmpty()) return
        message.setText(R.string.checkin_fetching)
        act { it.startCheckIn(block) }
    }

    private fun capture() {
        take.isEnabled = false
        message.setText(R.string.checkin_verifying)
        camera.takeBurst({ jpegs ->
            stopCamera()
            act { flow ->
                try {
                    flow.submitSelfies(jpegs)
                } finally {
                    jpegs.forEach { Arrays.fill(it, 0.toByte()) }
                }
            }
        }, {
            message.setText(R.string.camera_failed)
            take.isEnabled = true
            startCamera()
        })
    }

    /**
     * The active check: the prompts in turn while the camera records, then the frames to the flow (and wiped after).
     * The frames stay in memory; nothing is written.
     */
    private fun recordHeadTurn() {
        val state = AppFlow.get(this).state as? FlowState.AwaitingHeadTurn ?: return
        headTurn.isEnabled = false
        val prompts = listOf(R.string.head_turn_look) + state.poses.map { pose ->
            when (pose) {
                "left" -> R.string.head_turn_left
                "right" -> R.string.head_turn_right
                else -> R.string.head_turn_up
            }
        }
        val frames = ArrayList<Frame>()
        recording = frames
        val duration = HEAD_TURN_LOOK_MS + state.poses.size * HEAD_TURN_POSE_MS
        camera.startRecording(duration) { frames.add(it) }
        var at = 0L
        prompts.forEachIndexed { i, prompt ->
            ticker.postDelayed({
                message.setText(prompt)
                message.announceForAccessibility(message.text)
                message.performHapticFeedback(HapticFeedbackConstants.VIRTUAL_KEY)
            }, at)
            at += if (i == 0) HEAD_TURN_LOOK_MS else HEAD_TURN_POSE_MS
        }
        ticker.postDelayed({
            camera.stopRecording()
            recording = null
            stopCamera()
            message.setText(R.string.checkin_verifying)
            act { flow ->
                try {
                    flow.submitHeadTurn(frames)
                } finally {
                    frames.forEach { it.wipe() }
                }
            }
        }, at)
    }

    /** Asks for a person to look at the last check-in (the request names it by its hash; nothing biometric). */
    private fun requestReview() {
        val reason = when (val state = AppFlow.get(this).state) {
            is FlowState.LockedOut -> "locked_out"
            is FlowState.Decided -> if (state.outcome == "spoof_suspected") "spoof_suspected" else "no_match"
            else -> "other"
        }
        act { flow ->
            if (!flow.requestReview(reason)) message.post { message.setText(R.string.review_queued) }
            flow.state
        }
    }

    private fun render(state: FlowState) {
        ticker.removeCallbacksAndMessages(null)
        show(camera = false, start = false, retry = false, review = false)
        status.text = ""
        when (state) {
            is FlowState.NotEnrolled -> {
                startActivity(Intent(this, EnrollActivity::class.java))
                finish()
            }
            is FlowState.Ready -> {
                show(start = true)
                message.text = ""
            }
            is FlowState.LockedOut -> {
                show(review = true)
                countdown(state.until)
            }
            is FlowState.AwaitingSelfie -> {
                show(camera = true)
                blockField.setText(state.block)
                startCamera()
            }
            is FlowState.AwaitingHeadTurn -> {
                show(headTurn = true)
                blockField.setText(state.block)
                message.setText(R.string.head_turn_intro)
                startCamera()
            }
            is FlowState.Sending -> message.setText(R.string.checkin_uploading)
            is FlowState.Queued -> {
                show(retry = true)
                message.setText(R.string.checkin_queued)
            }
            is FlowState.Decided -> {
                // A selfie the core found too dark: the screen lights the face for the next one.
                lightNextShot = state.retake == "too_dark"
                show(retry = state.verdict != "accepted", start = state.verdict == "accepted", review = state.verdict == "review")
                message.text = verdictText(state)
                message.announceForAccessibility(message.text)
                // CONFIRM and REJECT are API 30: a short tick for a check-in, a long buzz for anything else.
                message.performHapticFeedback(
                    if (state.verdict == "accepted") HapticFeedbackConstants.VIRTUAL_KEY
                    else HapticFeedbackConstants.LONG_PRESS
                )
            }
            is FlowState.Failed -> {
                show(retry = true, review = state.reason == "fleet_refused")
                message.text = explainFailure(state)
            }
        }
    }

    /** During a lock-out: the time left, every second, and the buttons off (a review may still be asked for). */
    private fun countdown(until: Long) {
        if (until < 0) {
            message.setText(R.string.result_locked_until_reenrolled)
            return
        }
        val tick = object : Runnable {
            override fun run() {
                val left = until - System.currentTimeMillis() / 1000
                if (left <= 0) {
                    act { it.dismiss() }
                    return
                }
                message.text = getString(R.string.locked_countdown, left / 60, left % 60)
                ticker.postDelayed(this, 1000)
            }
        }
        tick.run()
    }

    private fun show(
        camera: Boolean = false,
        headTurn: Boolean = false,
        start: Boolean = false,
        retry: Boolean = false,
        review: Boolean = false
    ) {
        this.camera.view.visibility = if (camera || headTurn) View.VISIBLE else View.GONE
        hint.visibility = this.camera.view.visibility
        take.visibility = if (camera) View.VISIBLE else View.GONE
        this.headTurn.visibility = if (headTurn) View.VISIBLE else View.GONE
        this.start.visibility = if (start) View.VISIBLE else View.GONE
        blockField.visibility = if (start || camera || headTurn) View.VISIBLE else View.GONE
        this.retry.visibility = if (retry) View.VISIBLE else View.GONE
        this.review.visibility = if (review) View.VISIBLE else View.GONE
        setButtonsEnabled(true)
    }

    private fun setButtonsEnabled(enabled: Boolean) {
        for (button in listOf(start, take, headTurn, retry, review)) button.isEnabled = enabled
    }

    companion object {
        /** How long "look at the camera" is shown before the first pose. */
        const val HEAD_TURN_LOOK_MS = 1_500L

        /** How long each pose's prompt is shown while the camera records. */
        const val HEAD_TURN_POSE_MS = 2_500L
    }
}
