package com.facecheck.flow

import org.json.JSONArray
import org.json.JSONObject

/**
 * Where the driver's check-in stands. Plain data with no Android type: the app renders it, and it is saved after
 * every step ([FlowStore]) so that a rotation, a recreated Activity or a killed process resumes where it was.
 */
sealed class FlowState {
    /** No face enrolled on this phone (or it was erased): enroll with the dispatcher's code. */
    object NotEnrolled : FlowState()

    /** Enrolled; nothing in progress. */
    object Ready : FlowState()

    /** Check-in is locked on this phone after failed attempts: until `until` (unix seconds), or -1: until re-enrollment. */
    class LockedOut(val until: Long) : FlowState()

    /** The fleet gave a challenge for `block`, valid until `expiresAt` (unix seconds); the camera is next. */
    abstract class Challenged(val block: String, val nonce: String, val lastCounter: Long, val expiresAt: Long) :
        FlowState() {
        /** `awaiting_selfie` or `awaiting_head_turn`, as saved. */
        internal abstract val name: String

        internal fun challengedJson(): JSONObject = JSONObject().put("state", name).put("block", block)
            .put("nonce", nonce).put("last_counter", lastCounter).put("expires_at", expiresAt)
    }

    /** The fleet asked for the passive check: one selfie. */
    class AwaitingSelfie(block: String, nonce: String, lastCounter: Long, expiresAt: Long) :
        Challenged(block, nonce, lastCounter, expiresAt) {
        override val name = "awaiting_selfie"
    }

    /**
     * The fleet asked for the active check: the driver looks at the camera, then turns their head to each of
     * `poses` in order (`left`, `right`, `up`: the core's derivation from the nonce, which the driver cannot know in
     * advance) while the camera records.
     */
    class AwaitingHeadTurn(block: String, nonce: String, lastCounter: Long, expiresAt: Long, val poses: List<String>) :
        Challenged(block, nonce, lastCounter, expiresAt) {
        override val name = "awaiting_head_turn"
    }

    /**
     * A check-in the phone signed (`outcome`, with what to fix for a retake in `retake`) and stored in the outbox as
     * item `outboxId`, whose verdict the fleet has not given yet.
     */
    abstract class Signed(
        val block: String,
        val outcome: String,
        val retake: String?,
        val outboxId: Long,
        val token: String
    ) : FlowState() {
        /** `sending` or `queued`, as saved. */
        internal abstract val name: String

        internal fun signedJson(): JSONObject = JSONObject().put("state", name).put("block", block)
            .put("outcome", outcome).put("retake", retake ?: "").put("outbox_id", outboxId).put("token", token)
    }

    /** Signed and stored; being sent now. */
    class Sending(block: String, outcome: String, retake: String?, outboxId: Long, token: String) :
        Signed(block, outcome, retake, outboxId, token) {
        override val name = "sending"

        /** The same check-in, left for the outbox to send later. */
        fun queued() = Queued(block, outcome, retake, outboxId, token)
    }

    /** Signed and stored, but not delivered yet (no network): the outbox sends it when it can. */
    class Queued(block: String, outcome: String, retake: String?, outboxId: Long, token: String) :
        Signed(block, outcome, retake, outboxId, token) {
        override val name = "queued"
    }

    /** The fleet's verdict on the check-in: `accepted`, `review` (a person looks at it) or `refused` (`retake`). */
    class Decided(
        val block: String,
        val outcome: String,
        val retake: String?,
        val verdict: String,
        val reason: String,
        val token: String
    ) : FlowState()

    /** Something stopped the check-in; `reason` is a stable code for the app's strings, `detail` for the log. */
    class Failed(val reason: String, val detail: String) : FlowState()

    fun toJson(): JSONObject = when (this) {
        is NotEnrolled -> JSONObject().put("state", "not_enrolled")
        is Ready -> JSONObject().put("state", "ready")
        is LockedOut -> JSONObject().put("state", "locked_out").put("until", until)
        is AwaitingHeadTurn -> challengedJson().put("poses", JSONArray(poses))
        is Challenged -> challengedJson()
        is Signed -> signedJson()
        is Decided -> JSONObject().put("state", "decided").put("block", block).put("outcome", outcome)
            .put("retake", retake ?: "").put("verdict", verdict).put("reason", reason).put("token", token)
        is Failed -> JSONObject().put("state", "failed").put("reason", reason).put("detail", detail)
    }

    override fun toString(): String = toJson().toString()

    companion object {
        fun fromJson(json: JSONObject): FlowState {
            val retake = json.optString("retake", "").takeIf { it.isNotEmpty() }
            return when (val state = json.getString("state")) {
                "not_enrolled" -> NotEnrolled
                "ready" -> Ready
                "locked_out" -> LockedOut(json.getLong("until"))
                "awaiting_selfie" -> AwaitingSelfie(
                    json.getString("block"), json.getString("nonce"), json.getLong("last_counter"),
                    json.getLong("expires_at")
                )
                "awaiting_head_turn" -> {
                    val poses = json.getJSONArray("poses")
                    AwaitingHeadTurn(
                        json.getString("block"), json.getString("nonce"), json.getLong("last_counter"),
                        json.getLong("expires_at"), (0 until poses.length()).map { poses.getString(it) }
                    )
                }
                "sending" -> Sending(
                    json.getString("block"), json.getString("outcome"), retake, json.getLong("outbox_id"),
                    json.getString("token")
                )
                "queued" -> Queued(
                    json.getString("block"), json.getString("outcome"), retake, json.getLong("outbox_id"),
                    json.getString("token")
                )
                "decided" -> Decided(
                    json.getString("block"), json.getString("outcome"), retake, json.getString("verdict"),
                    json.getString("reason"), json.getString("token")
                )
                "failed" -> Failed(json.getString("reason"), json.getString("detail"))
                else -> throw IllegalArgumentException("unknown flow state $state")
            }
        }
    }
}

/**
 * Who this phone is enrolled as, provisioned by the enrollment code: the fleet service's address, the fleet, the
 * driver, the device key the fleet registered, the fleet's evidence key, and the code and consent the registration
 * statement carries (to sign it again if it went stale before the fleet had it).
 */
class Profile(
    val server: String,
    val fleet: String,
    val driver: String,
    val kid: String,
    val fleetKey: String,
    val code: String,
    val consentNotice: String,
    val consentAcceptedAt: Long
) {
    fun toJson(): JSONObject = JSONObject().put("server", server).put("fleet", fleet).put("driver", driver)
        .put("kid", kid).put("fleet_key", fleetKey).put("code", code).put("consent_notice", consentNotice)
        .put("consent_accepted_at", consentAcceptedAt)

    companion object {
        fun fromJson(json: JSONObject) = Profile(
            json.getString("server"), json.getString("fleet"), json.getString("driver"), json.getString("kid"),
            json.getString("fleet_key"), json.getString("code"), json.getString("consent_notice"),
            json.getLong("consent_accepted_at")
        )
    }
}
