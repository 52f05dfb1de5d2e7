package com.facecheck.flow

import com.facecheck.api.CheckInResult
import com.facecheck.api.Facecheck
import com.facecheck.api.FacecheckException
import com.facecheck.api.Frame
import org.json.JSONArray
import org.json.JSONObject
import java.io.File

/** The native engine on this phone's current key-encryption key, and the way to retire that key after an erasure. */
interface Device {
    /** The engine (opened on first use with the current key). */
    fun engine(): Facecheck

    /**
     * After an erasure: closes the engine and deletes the key-encryption key for good (on Android the wrapped key
     * and its Keystore alias), so that no copy of the old vault opens again; the next [engine] uses a new key.
     */
    fun retireKey()
}

/** A step of the flow that cannot be taken, with a stable reason code for the app's strings. */
class FlowException(val reason: String, message: String) : Exception(message)

/** Something the driver should see once: a statement the fleet refused, a confirmation that arrived later. */
class Notice(val kind: StatementKind, val code: String, val detail: String)

/**
 * The driver's check-in, end to end, in plain Kotlin (no Android type): enrollment by the dispatcher's code, a
 * challenge from the fleet, the selfie checked and signed on the phone, the signed statement stored in the
 * [Outbox] and delivered, and the **fleet's** verdict. Every step saves the [FlowState] ([DurableFile]) before it
 * returns, so a recreated screen or a killed process resumes; [reconcile] on start finishes what was left.
 *
 * Calls block (network, the native engine): run them off the UI thread. They are serialised on this object.
 *
 * Trust: the phone only signs; the fleet decides. The phone refuses to sign when its clock is off from the fleet's
 * (`clock_wrong`) and when its vault is older than what the fleet has seen from this key (`vault_rolled_back`);
 * everything else it signs goes to the fleet, whatever the outcome.
 */
class CheckInFlow(
    dir: File,
    private val device: Device,
    private val apiFor: (String) -> FleetApi,
    private val now: () -> Long = { System.currentTimeMillis() / 1000 }
) {
    private val stateFile = DurableFile(File(dir, "flow-state.json"))
    private val profileFile = DurableFile(File(dir, "profile.json"))
    private val noticesFile = DurableFile(File(dir, "notices.json"))

    /** The statements waiting for the fleet. */
    val outbox = Outbox(File(dir, "outbox"))

    /** Who this phone is enrolled as, or null. */
    var profile: Profile? = profileFile.read()?.let { Profile.fromJson(JSONObject(it)) }
        private set

    /** Where the check-in stands (as saved). */
    @get:Synchronized
    var state: FlowState = stateFile.read()?.let { FlowState.fromJson(JSONObject(it)) }
        ?: if (profile == null) FlowState.NotEnrolled else FlowState.Ready
        private set

    private fun set(next: FlowState): FlowState {
        stateFile.write(next.toJson().toString())
        state = next
        return next
    }

    /**
     * On start (and from the scheduled job): drops a challenge that expired while the app was away, sends what the
     * outbox holds, and turns a check-in whose answer arrived into the fleet's verdict.
     */
    @Synchronized
    fun reconcile(): FlowState {
        val current = state
        if (current is FlowState.Challenged && now() >= current.expiresAt) set(FlowState.Ready)
        // A check-in left Sending (the process died before the answer) is in the outbox until delivered.
        return deliverOrQueue()
    }

    /** Sends the outbox; a check-in still waiting for its verdict afterwards is left queued. */
    private fun deliverOrQueue(): FlowState {
        deliverOutbox(force = true)
        val after = state
        return if (after is FlowState.Sending) set(after.queued()) else after
    }

    /**
     * Enrolls by the dispatcher's code: looks the code up (its fleet, driver and the consent notice the fleet
     * expects), enrolls the selfies on the phone with the code and the driver's consent signed into the
     * registration statement, stores the statement in the outbox and delivers it.
     *
     * @throws FlowException `code_mismatch`, `fleet_key_mismatch` (the scanned code disagrees with the service),
     *     `consent_outdated` (the notice shown is not the one the fleet expects: detail names it)
     * @throws FleetError the code lookup failed (no network, `code_unknown`)
     * @throws FacecheckException the selfies were refused (no enrollment happened)
     */
    @Synchronized
    fun enroll(invite: EnrollmentInvite, consentNotice: String, consentAcceptedAt: Long, selfies: List<ByteArray>): FlowState {
        if (profile != null) throw FlowException("already_enrolled", "this phone is enrolled: reset it first")
        val info = apiFor(invite.server).lookupCode(invite.code)
        if ((invite.fleet != null && invite.fleet != info.fleet) || (invite.driver != null && invite.driver != info.driver)) {
            throw FlowException("code_mismatch", "the code is for another fleet or driver than the one scanned")
        }
        if (invite.fleetKey != null && invite.fleetKey != info.fleetKey) {
            throw FlowException("fleet_key_mismatch", "the service's evidence key is not the one in the scanned code")
        }
        if (info.consentNotice != consentNotice) {
            throw FlowException("consent_outdated", info.consentNotice)
        }
        val engine = device.engine()
        val statement = engine.enroll(info.driver, info.fleet, selfies, invite.code, consentNotice, consentAcceptedAt)
        val enrolled = Profile(
            invite.server, info.fleet, info.driver, engine.status().deviceKeyId(), info.fleetKey, invite.code,
            consentNotice, consentAcceptedAt
        )
        // The profile first: a process that dies before the statement is stored finds it missing at the first
        // challenge (`key_unknown` with no registration waiting) and signs it again from the profile.
        profileFile.write(enrolled.toJson().toString())
        profile = enrolled
        outbox.add(StatementKind.REGISTRATION, statement, enrolled.server, now())
        set(FlowState.Ready)
        deliverOutbox(force = true)
        return state
    }

    /**
     * Asks the fleet for a challenge for `block` (sending what the outbox holds first, without waiting on it) and
     * checks the phone's clock against the fleet's. The next step is [submitSelfies] when the fleet asks for the
     * passive check ([FlowState.AwaitingSelfie]), [submitHeadTurn] when it asks for the active one
     * ([FlowState.AwaitingHeadTurn], with the poses the core derives from the nonce).
     */
    @Synchronized
    fun startCheckIn(block: String): FlowState {
        val enrolled = profile ?: return set(FlowState.NotEnrolled)
        val status = device.engine().status()
        if (!status.isEnrolled) return set(FlowState.NotEnrolled)
        val lockedUntil = status.lockedUntil()
        if (status.isLockedUntilReenrolled) return set(FlowState.LockedOut(-1))
        if (lockedUntil != null && lockedUntil > now()) return set(FlowState.LockedOut(lockedUntil))
        deliverOutbox(force = true)
        val challenge = try {
            apiFor(enrolled.server).challenge(enrolled.kid, block)
        } catch (e: FleetError.Unreachable) {
            return set(FlowState.Failed("offline", e.message ?: ""))
        } catch (e: FleetError.Refused) {
            val registrationWaiting = outbox.items().any { it.kind == StatementKind.REGISTRATION }
            if (e.code == "key_unknown" && !registrationWaiting) {
                // The registration never reached the outbox (the process died in between): sign it again.
                val statement = device.engine()
                    .registrationStatement(enrolled.code, enrolled.consentNotice, enrolled.consentAcceptedAt)
                outbox.add(StatementKind.REGISTRATION, statement, enrolled.server, now())
                deliverOutbox(force = true)
            }
            val reason = when {
                e.code == "key_unknown" -> "not_registered_yet"
                e.code == "key_not_active" -> "key_revoked"
                e.code == "invalid_block" -> "invalid_block"
                else -> "fleet_refused"
            }
            return set(FlowState.Failed(reason, e.code))
        } catch (e: FleetError) {
            return set(FlowState.Failed("fleet_refused", e.message ?: ""))
        }
        val offset = now() - challenge.serverTime
        if (offset > CLOCK_TOLERANCE_SECS || -offset > CLOCK_TOLERANCE_SECS) {
            return set(FlowState.Failed("clock_wrong", offset.toString()))
        }
        val next = if (challenge.liveness == Challenge.ACTIVE) {
            val poses = Facecheck.activeChallenge(challenge.nonce).toList()
            FlowState.AwaitingHeadTurn(challenge.block, challenge.nonce, challenge.lastCounter, challenge.expiresAt, poses)
        } else {
            FlowState.AwaitingSelfie(challenge.block, challenge.nonce, challenge.lastCounter, challenge.expiresAt)
        }
        return set(next)
    }

    /**
     * Checks the selfie frames against the challenge on the phone, stores the signed decision in the outbox, then
     * delivers it: [FlowState.Decided] with the fleet's verdict, or [FlowState.Queued] when it could not be sent
     * (the outbox sends it later). A vault older than the fleet's counter signs nothing (`vault_rolled_back`).
     */
    @Synchronized
    fun submitSelfies(frames: List<ByteArray>): FlowState {
        val challenge = state as? FlowState.AwaitingSelfie ?: throw notAwaiting("a selfie")
        return signAndDeliver(challenge) {
            val result = device.engine().checkIn(challenge.nonce, challenge.block, challenge.lastCounter, frames)
            Pair(result, result.retakeReason())
        }
    }

    /**
     * The active check: checks the recorded frames (in time order, the first looking at the camera, then the
     * challenge's poses) on the phone, which signs `match` only if the head turned as asked and the face is the
     * enrolled driver's; then as [submitSelfies]. A failed turn is signed as `spoof_suspected` with what went
     * wrong (`pose_not_reached`, `too_slow`, ...) as the retake advice; it counts as a failed attempt.
     */
    @Synchronized
    fun submitHeadTurn(frames: List<Frame>): FlowState {
        val challenge = state as? FlowState.AwaitingHeadTurn ?: throw notAwaiting("a head turn")
        return signAndDeliver(challenge) {
            val result = device.engine().checkInActive(challenge.nonce, challenge.block, challenge.lastCounter, frames)
            Pair(result, result.activeReason() ?: result.retakeReason())
        }
    }

    private fun notAwaiting(what: String): FlowException = when (val current = state) {
        is FlowState.Challenged -> FlowException("wrong_liveness_check", "the challenge is not for ${what}: $current")
        else -> FlowException("no_challenge", "start a check-in first")
    }

    /** Signs on the phone (`sign`: the result and its retake advice), stores it in the outbox, delivers it. */
    private fun signAndDeliver(challenge: FlowState.Challenged, sign: () -> Pair<CheckInResult, String?>): FlowState {
        val enrolled = profile ?: return set(FlowState.NotEnrolled)
        if (now() >= challenge.expiresAt) return set(FlowState.Failed("challenge_expired", challenge.block))
        val (result, retake) = try {
            sign()
        } catch (e: FacecheckException.VaultRolledBack) {
            return set(FlowState.Failed("vault_rolled_back", e.message ?: ""))
        }
        val item = outbox.add(
            StatementKind.CHECKIN, result.token(), enrolled.server, now(), JSONObject().put("block", challenge.block)
        )
        set(FlowState.Sending(challenge.block, result.outcome(), retake, item.id, result.token()))
        return deliverOrQueue()
    }

    /**
     * Asks for a person at the fleet to look at the last check-in (or at nothing in particular): a signed request
     * naming the check-in by its hash, stored in the outbox and delivered. Returns whether it was delivered now.
     */
    @Synchronized
    fun requestReview(reason: String): Boolean {
        val enrolled = profile ?: throw FlowException("not_enrolled", "nothing to review on this phone")
        val token = when (val current = state) {
            is FlowState.Decided -> current.token
            is FlowState.Signed -> current.token
            else -> null
        }
        val request = device.engine().reviewRequest(token, reason)
        val item = outbox.add(StatementKind.REVIEW, request, enrolled.server, now())
        deliverOutbox(force = true)
        return outbox.get(item.id) == null
    }

    /**
     * Erases the driver's face and key from this phone for good ("reset this phone"): the native library signs the
     * receipt and destroys the vault, the receipt goes into the outbox (it reaches the fleet when the network allows,
     * enrolled or not), and the key-encryption key is retired. Then the phone can be enrolled again, by a new code.
     */
    @Synchronized
    fun erase(): FlowState {
        val enrolled = profile
        val receipt = device.engine().erase()
        if (enrolled != null) outbox.add(StatementKind.ERASURE, receipt, enrolled.server, now())
        device.retireKey()
        profileFile.delete()
        profile = null
        set(FlowState.NotEnrolled)
        deliverOutbox(force = true)
        return state
    }

    /**
     * Forgets the enrollment after the vault had to be deleted unread (its key lost, or the file damaged): no
     * receipt can be signed for it, so the fleet learns of it only when its admin revokes the key (or the driver
     * enrolls again, which revokes the driver's older keys). What the outbox holds is still delivered.
     */
    @Synchronized
    fun forgetEnrollment(): FlowState {
        profileFile.delete()
        profile = null
        return set(FlowState.NotEnrolled)
    }

    /** Leaves a finished or failed check-in: back to [FlowState.Ready] (or what the phone's state says). */
    @Synchronized
    fun dismiss(): FlowState = set(if (profile == null) FlowState.NotEnrolled else FlowState.Ready)

    /** The notices not yet shown, oldest first; they are then forgotten. */
    @Synchronized
    fun takeNotices(): List<Notice> {
        val notices = readNotices()
        if (notices.isNotEmpty()) noticesFile.delete()
        return notices
    }

    /** Sends the outbox (from the app's scheduled job when a network is available, and after each step). */
    @Synchronized
    fun deliverOutbox(force: Boolean): Boolean =
        outbox.deliver(now(), force, apiFor, ::resign) { delivery -> answered(delivery) }

    /** A registration the fleet called stale, signed again now with the same code and consent. */
    private fun resign(item: Outbox.Item): String? {
        val enrolled = profile ?: return null
        if (item.server != enrolled.server) return null
        return device.engine().registrationStatement(enrolled.code, enrolled.consentNotice, enrolled.consentAcceptedAt)
    }

    private fun answered(delivery: Outbox.Delivery) {
        val item = delivery.item
        val waiting = (state as? FlowState.Signed)?.takeIf { it.outboxId == item.id }
        when (delivery) {
            is Outbox.Delivery.Delivered -> when {
                waiting != null -> {
                    val verdict = apiFor(item.server).verdictOf(delivery.answer)
                    set(FlowState.Decided(waiting.block, waiting.outcome, waiting.retake, verdict.verdict, verdict.reason, waiting.token))
                }
                item.kind == StatementKind.CHECKIN -> {
                    val verdict = apiFor(item.server).verdictOf(delivery.answer)
                    addNotice(Notice(item.kind, "verdict_" + verdict.verdict, verdict.reason))
                }
                item.kind != StatementKind.REGISTRATION -> addNotice(Notice(item.kind, "delivered", ""))
            }
            is Outbox.Delivery.Rejected -> {
                addNotice(Notice(item.kind, delivery.error.code, delivery.error.message ?: ""))
                if (waiting != null) set(FlowState.Failed("fleet_refused", delivery.error.code))
                if (item.kind == StatementKind.REGISTRATION && profile?.server == item.server) {
                    set(FlowState.Failed("registration_refused", delivery.error.code))
                }
            }
        }
    }

    private fun readNotices(): List<Notice> {
        val array = JSONArray(noticesFile.read() ?: "[]")
        return (0 until array.length()).map {
            val json = array.getJSONObject(it)
            Notice(StatementKind.valueOf(json.getString("kind")), json.getString("code"), json.getString("detail"))
        }
    }

    private fun addNotice(notice: Notice) {
        val array = JSONArray()
        for (old in readNotices() + notice) {
            array.put(JSONObject().put("kind", old.kind.name).put("code", old.code).put("detail", old.detail))
        }
        noticesFile.write(array.toString())
    }

    companion object {
        /** How far the phone's clock may be from the fleet's before the phone refuses to sign (the fleet's window). */
        const val CLOCK_TOLERANCE_SECS = 300L
    }
}
