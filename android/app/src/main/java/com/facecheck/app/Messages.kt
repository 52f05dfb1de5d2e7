package com.facecheck.app

import android.app.Activity
import com.facecheck.api.CheckInResult
import com.facecheck.api.FacecheckException
import com.facecheck.flow.FleetError
import com.facecheck.flow.FlowException
import com.facecheck.flow.FlowState
import com.facecheck.flow.Notice
import com.facecheck.flow.StatementKind
import java.io.IOException

/**
 * What to tell the driver about a failed call: the actionable text, never a stack trace or a code. Every
 * [Throwable] of the worker thread ends here ([Background]), the JVM's errors included:
 * - a [LinkageError] (`UnsatisfiedLinkError` from loading `libfacecheck_jni.so`, or a `NoClassDefFoundError` after
 *   it failed) means the phone cannot run the native library: the APK carries arm64-v8a only, so a 32-bit-only
 *   or x86 phone lands here;
 * - any other [Error] (out of memory, ...) gets a generic text without details.
 */
fun Activity.explain(error: Throwable): String = when (error) {
    is FacecheckException.NoFace -> getString(R.string.result_no_face)
    is FacecheckException.PoorQuality ->
        if (error.reason() == "inconsistent") getString(R.string.enroll_inconsistent) else retakeText(error.reason())
    is FacecheckException.SpoofSuspected -> getString(R.string.enroll_spoof)
    is FacecheckException.WrongKey, is FacecheckException.VaultCorrupt, is VaultKeyLost ->
        getString(R.string.vault_unreadable)
    is FacecheckException.VaultRolledBack -> getString(R.string.vault_rolled_back)
    is FacecheckException.QrCodeNotRead -> when (error.reason()) {
        "unreadable" -> getString(R.string.scan_unreadable)
        "not_enrollment" -> getString(R.string.scan_not_enrollment)
        else -> getString(R.string.scan_none)
    }
    is FacecheckException.InvalidState ->
        if (error.reason() == "not_enrolled") getString(R.string.result_not_enrolled)
        else getString(R.string.error_generic, error.message)
    is FleetError.Unreachable -> getString(R.string.failed_offline)
    is FleetError.Refused -> when (error.code) {
        "code_unknown" -> getString(R.string.code_unknown)
        else -> getString(R.string.failed_fleet_refused, error.code)
    }
    is FlowException -> when (error.reason) {
        "consent_outdated" -> getString(R.string.consent_outdated)
        "code_mismatch", "fleet_key_mismatch" -> getString(R.string.code_unknown)
        else -> getString(R.string.error_generic, error.reason)
    }
    is IOException -> getString(R.string.network_failed, error.message)
    is LinkageError -> getString(R.string.phone_not_supported)
    is Exception -> getString(R.string.error_generic, error.message)
    else -> getString(R.string.error_internal)
}

/** Why a check-in stopped, per the flow's reason code. */
fun Activity.explainFailure(failed: FlowState.Failed): String = when (failed.reason) {
    "offline" -> getString(R.string.failed_offline)
    "clock_wrong" -> getString(R.string.failed_clock_wrong)
    "not_registered_yet" -> getString(R.string.failed_not_registered_yet)
    "key_revoked" -> getString(R.string.failed_key_revoked)
    "invalid_block" -> getString(R.string.failed_invalid_block)
    "challenge_expired" -> getString(R.string.failed_challenge_expired)
    "vault_rolled_back" -> getString(R.string.vault_rolled_back)
    "registration_refused" -> getString(R.string.failed_registration_refused)
    else -> getString(R.string.failed_fleet_refused, failed.detail)
}

/** What to fix before the next selfie, per the core's quality reason code (never the core's English). */
fun Activity.retakeText(reason: String?): String = getString(
    when (reason) {
        "no_face" -> R.string.result_no_face
        "several_faces" -> R.string.retake_several_faces
        "face_cut_off", "face_too_small", "face_too_close" -> R.string.retake_framing
        "turned_away", "head_tilted", "looking_up_or_down" -> R.string.retake_pose
        "too_dark" -> R.string.retake_too_dark
        "too_bright" -> R.string.retake_too_bright
        "blurry" -> R.string.retake_blurry
        else -> R.string.retake_generic
    }
)

/** What went wrong in a head turn, per the core's active reason code; null for any other code. */
fun Activity.headTurnText(reason: String?): String? = when (reason) {
    "pose_not_reached" -> getString(R.string.active_pose_not_reached)
    "too_slow" -> getString(R.string.active_too_slow)
    "face_changed" -> getString(R.string.active_face_changed)
    "too_few_frames" -> getString(R.string.active_too_few_frames)
    "passive_failed" -> getString(R.string.result_spoof)
    else -> null
}

/** The fleet's verdict on a check-in, with what the phone saw when the fleet wants a person or a retake. */
fun Activity.verdictText(decided: FlowState.Decided): String = when (decided.verdict) {
    "accepted" -> getString(R.string.result_match, decided.block)
    "refused" -> retakeText(decided.retake ?: decided.outcome)
    else -> headTurnText(decided.retake) ?: when (decided.outcome) {
        CheckInResult.NO_MATCH -> getString(R.string.result_no_match)
        CheckInResult.SPOOF_SUSPECTED -> getString(R.string.result_spoof)
        else -> getString(R.string.verdict_review)
    }
}

/** A notice of the outbox, shown once. */
fun Activity.noticeText(notice: Notice): String = when {
    notice.code == "delivered" && notice.kind == StatementKind.ERASURE -> getString(R.string.notice_erasure_delivered)
    notice.code == "delivered" && notice.kind == StatementKind.REVIEW -> getString(R.string.checkin_review_sent)
    notice.code.startsWith("verdict_") -> getString(R.string.notice_late_verdict, notice.code.removePrefix("verdict_"))
    else -> getString(R.string.notice_refused, notice.code)
}
