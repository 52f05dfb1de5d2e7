package com.facecheck.app

import org.json.JSONObject
import java.io.IOException
import java.net.HttpURLConnection
import java.net.URL
import java.net.URLEncoder

/**
 * The only network code of Facecheck. It sends the fleet server signed statements and nothing else: no photo,
 * template or score exists outside the native library to be sent.
 *
 * The endpoints (relative to the configured server address, JSON bodies):
 * - `GET  challenge?driver=D&block=B` → `{"nonce": "...", "block": "..."}`: a fresh challenge for one check-in;
 * - `POST checkins`      `{"token": JWS}`: a check-in attestation, whatever its outcome;
 * - `POST devices`       `{"registration": JWS}`: the device registration statement made at enrollment;
 * - `POST erasures`      `{"receipt": JWS}`: the signed receipt of an erasure;
 * - `POST reviews`       `{"driver": D, "block": B, "token": JWS or absent}`: the driver asks for a human review.
 */
class FleetClient(private val baseUrl: String) {
    /** A challenge, with the highest counter the fleet accepted from this device's key (-1 if it sent none). */
    class Challenge(val nonce: String, val block: String, val lastCounter: Long)

    fun challenge(driverId: String, blockId: String): Challenge {
        val query = "driver=" + URLEncoder.encode(driverId, "UTF-8") + "&block=" + URLEncoder.encode(blockId, "UTF-8")
        val json = JSONObject(request("GET", "challenge?$query", null))
        return Challenge(json.getString("nonce"), json.optString("block", blockId), json.optLong("last_counter", -1))
    }

    fun uploadCheckIn(token: String) {
        request("POST", "checkins", JSONObject().put("token", token))
    }

    fun registerDevice(statement: String) {
        request("POST", "devices", JSONObject().put("registration", statement))
    }

    fun uploadErasure(receipt: String) {
        request("POST", "erasures", JSONObject().put("receipt", receipt))
    }

    fun requestReview(driverId: String, blockId: String, token: String?) {
        val body = JSONObject().put("driver", driverId).put("block", blockId)
        if (token != null) body.put("token", token)
        request("POST", "reviews", body)
    }

    private fun request(method: String, path: String, body: JSONObject?): String {
        val url = URL(baseUrl.trimEnd('/') + "/" + path)
        val connection = url.openConnection() as HttpURLConnection
        try {
            connection.requestMethod = method
            connection.connectTimeout = 15_000
            connection.readTimeout = 15_000
            connection.setRequestProperty("Accept", "application/json")
            if (body != null) {
                connection.doOutput = true
                connection.setRequestProperty("Content-Type", "application/json; charset=utf-8")
                connection.outputStream.use { it.write(body.toString().toByteArray(Charsets.UTF_8)) }
            }
            val code = connection.responseCode
            if (code !in 200..299) throw IOException("the server answered $code")
            return connection.inputStream.use { String(it.readBytes(), Charsets.UTF_8) }
        } finally {
            connection.disconnect()
        }
    }
}
