package com.facecheck.flow

import java.net.URLDecoder

/**
 * What the dispatcher hands a driver to enroll: the fleet service's address, the fleet, the driver and a single-use
 * code, with the fleet's evidence key. Scanned from the enrollment QR code
 * (`facecheck-enroll:1?server=<url>&fleet=<F>&driver=<D>&code=<CODE>&fk=<fleet key>`, `crates/facecheck-fleet/src/codes.rs`)
 * or typed: the server address and the short code, the rest then comes from the service's code lookup.
 */
class EnrollmentInvite(val server: String, val code: String, val fleet: String?, val driver: String?, val fleetKey: String?) {
    companion object {
        private const val SCHEME = "facecheck-enroll:1?"

        /** The invite of a scanned QR payload; [IllegalArgumentException] with the reason if it is not one. */
        fun parse(payload: String): EnrollmentInvite {
            require(payload.startsWith(SCHEME)) { "not a Facecheck enrollment code" }
            val fields = HashMap<String, String>()
            for (pair in payload.substring(SCHEME.length).split('&')) {
                val at = pair.indexOf('=')
                require(at > 0) { "a malformed enrollment code" }
                val name = pair.substring(0, at)
                require(name !in fields) { "the enrollment code names $name twice" }
                fields[name] = URLDecoder.decode(pair.substring(at + 1), "UTF-8")
            }
            val server = fields["server"] ?: throw IllegalArgumentException("the enrollment code has no server")
            val code = fields["code"] ?: throw IllegalArgumentException("the enrollment code has no code")
            return typed(server, code).let { EnrollmentInvite(it.server, it.code, fields["fleet"], fields["driver"], fields["fk"]) }
        }

        /** The invite of a typed server address and code. */
        fun typed(server: String, code: String): EnrollmentInvite {
            val base = server.trim().trimEnd('/')
            require(base.startsWith("https://") || base.startsWith("http://")) {
                "the fleet server address starts with https://"
            }
            return EnrollmentInvite(base, cleanCode(code), null, null, null)
        }

        /** A code as typed: letters, digits and dashes (the service reads case, O/0 and I/L leniently). */
        fun cleanCode(code: String): String {
            val clean = code.filter { !it.isWhitespace() }
            require(clean.isNotEmpty() && clean.length <= 64 && clean.all { it.isLetterOrDigit() && it.toInt() < 128 || it == '-' }) {
                "an enrollment code is letters, digits and dashes (XXXX-XXXX-XXXX)"
            }
            return clean
        }
    }
}
