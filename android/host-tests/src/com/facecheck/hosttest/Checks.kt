package com.facecheck.hosttest

/** The harnesses' way of running a test: one line per test (`ok` or `FAILED` with the stack), and the tally. */
open class Tally {
    var passed = 0
    var failed = 0

    fun test(name: String, body: () -> Unit) {
        try {
            body()
            passed++
            println("ok     $name")
        } catch (e: Throwable) {
            failed++
            println("FAILED $name: $e")
            e.printStackTrace(System.out)
        }
    }
}

/** Runs `block` and returns what it threw, which must be a `T`. */
inline fun <reified T : Throwable> expect(block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.java.name}, got $e", e)
    }
    throw AssertionError("expected ${T::class.java.name}, nothing was thrown")
}
