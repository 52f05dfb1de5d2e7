package com.facecheck.flow

import org.json.JSONException
import org.json.JSONObject
import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URL

/** One HTTP answer: its status and body. */
class HttpAnswer(val status: Int, val body: String)

/** How requests reach the fleet service. [HttpTransport] in the app; tests may wrap it to lose answers. */
interface Transport {
    /** Sends one request (a JSON body or none) and returns the answer; an [IOException] when nothing came back. */
    @Throws(IOException::class)
    fun exchange(method: String, path: String, jsonBody: String?): HttpAnswer
}

/** [Transport] over `HttpURLConnection`, with timeouts, no redirects and at most 1 MiB read back. */
class HttpTransport(baseUrl: String) : Transport {
    private val base = baseUrl.trimEnd('/')

    init {
        require(base.startsWith("https://") || base.startsWith("http://")) { "not an http(s) URL: $baseUrl" }
    }

    override fun exchange(method: String, path: String, jsonBody: String?): HttpAnswer {
        val connection = URL(base + path).openConnection() as HttpURLConnection
        try {
            connection.requestMethod = method
            connection.connectTimeout = 10_000
            connection.readTimeout = 20_000
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            connection.setRequestProperty("Accept", "application/json")
            if (jsonBody != null) {
                val bytes = jsonBody.toByteArray(Charsets.UTF_8)
                connection.doOutput = true
                connection.setFixedLengthStreamingMode(bytes.size)
                connection.setRequestProperty("Content-Type", "application/json")
                connection.outputStream.use { it.write(bytes) }
            }
            val status = connection.responseCode
            val stream = if (status >= 400) connection.errorStream else connection.inputStream
            return HttpAnswer(status, stream?.let { readLimited(it) } ?: "")
        } finally {
            connection.disconnect()
        }
    }

    private fun readLimited(input: InputStream): String = input.use {
        val out = java.io.ByteArrayOutputStream()
        val buffer = ByteArray(8192)
        while (true) {
            val n = it.read(buffer)
            if (n < 0) break
            out.write(buffer, 0, n)
            if (out.size() > MAX_ANSWER_BYTES) throw IOException("the fleet service's answer is too long")
        }
        String(out.toByteArray(), Charsets.UTF_8)
    }

    private companion object {
        const val MAX_ANSWER_BYTES = 1 shl 20
    }
}

/** Why a call to the fleet service failed. None of the texts carries anything biometric: nothing sent does. */
sealed class FleetError(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /** Nothing came back (no network, refused, timed out): worth retrying later. */
    class Unreachable(cause: IOException) : FleetError("the fleet service cannot be reached: ${cause.message}", cause)

    /** The service answered with an error: `code` is its stable reason (`openapi.yaml`). */
    class Refused(val status: Int, val code: String, message: String) : FleetError("$status $code: $message") {
        /** 5xx (and 503 `unavailable`): the service's trouble, worth retrying; 4xx: this request will never pass. */
        val retryable: Boolean get() = status >= 500 || status == 429
    }

    /** The answer is not what the protocol says. */
    class BadAnswer(message: String) : FleetError(message)
}

/** What an enrollment code is for, as the service says (`GET /v1/enrollment-codes/{code}`). */
class CodeInfo(
    val fleet: String,
    val driver: String,
    val expiresAt: Long,
    val fleetKey: String,
    val consentNotice: String
)

/**
 * A check-in challenge (`POST /v1/challenges`). `liveness` is the check the fleet asks for: [PASSIVE] (one selfie) or
 * [ACTIVE] (the head-turn challenge the core derives from the nonce); the fleet refuses a match that ran less.
 */
class Challenge(
    val nonce: String,
    val block: String,
    val expiresAt: Long,
    val serverTime: Long,
    val lastCounter: Long,
    val liveness: String
) {
    companion object {
        const val PASSIVE = "passive"
        const val ACTIVE = "active"
    }
}

/** The fleet's answer to a check-in (`POST /v1/checkins`): the decision that counts. */
class FleetVerdict(val verdict: String, val reason: String, val counterGap: Long, val evidence: String)

/**
 * The fleet service's device API (`crates/facecheck-fleet/openapi.yaml`, the contract). Only signed statements, a
 * key id, a block id and an enrollment code are ever sent.
 */
class FleetApi(private val transport: Transport) {
    /** What `code` (as typed or scanned) is for. */
    fun lookupCode(code: String): CodeInfo {
        val answer = call("GET", "/v1/enrollment-codes/" + EnrollmentInvite.cleanCode(code), null)
        return parse {
            CodeInfo(
            answer.getString("fleet"),
            answer.getString("driver"),
            answer.getLong("expires_at"),
            answer.getJSONObject("fleet_key").getString("x"),
            answer.getString("consent_notice")
            )
        }
    }

    /** A single-use challenge for one check-in of the key `kid` into `block`. */
    fun challenge(kid: String, block: String): Challenge {
        val answer = call("POST", "/v1/challenges", JSONObject().put("kid", kid).put("block", block))
        return parse {
            Challenge(
            answer.getString("nonce"),
            answer.getString("block"),
            answer.getLong("expires_at"),
            answer.getLong("server_time"),
            answer.getLong("last_counter"),
            answer.getString("liveness").also {
                if (it != Challenge.PASSIVE && it != Challenge.ACTIVE) {
                    throw FleetError.BadAnswer("the fleet asks for an unknown liveness check: $it")
                }
            }
            )
        }
    }

    /** Delivers one signed statement of the outbox; the service's JSON answer. */
    fun deliver(kind: StatementKind, statement: String): JSONObject =
        call("POST", kind.path, JSONObject().put(kind.field, statement))

    /** A check-in answer read as the fleet's verdict. */
    fun verdictOf(answer: JSONObject): FleetVerdict = parse {
        FleetVerdict(
            answer.getString("verdict"),
            answer.getString("reason"),
            answer.getLong("counter_gap"),
            answer.getString("evidence")
        )
    }

    private fun call(method: String, path: String, body: JSONObject?): JSONObject {
        val answer = try {
            transport.exchange(method, path, body?.toString())
        } catch (e: IOException) {
            throw FleetError.Unreachable(e)
        }
        val json = try {
            JSONObject(answer.body)
        } catch (e: JSONException) {
            null
        }
        if (answer.status in 200..299) {
            return json ?: throw FleetError.BadAnswer("$path answered ${answer.status} without JSON")
        }
        val error = json?.optJSONObject("error")
        throw FleetError.Refused(
            answer.status,
            error?.optString("code", "unknown") ?: "unknown",
            error?.optString("message", "") ?: "the service answered ${answer.status}"
        )
    }

    private fun <T> parse(read: () -> T): T = try {
        read()
    } catch (e: JSONException) {
        throw FleetError.BadAnswer("the fleet service's answer lacks a field: ${e.message}")
    }
}

/** The statements the device sends, and where (`openapi.yaml`). */
enum class StatementKind(val path: String, val field: String) {
    REGISTRATION("/v1/registrations", "statement"),
    CHECKIN("/v1/checkins", "token"),
    ERASURE("/v1/erasures", "receipt"),
    REVIEW("/v1/reviews", "request")
}
