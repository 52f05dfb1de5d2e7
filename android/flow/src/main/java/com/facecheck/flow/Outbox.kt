package com.facecheck.flow

import org.json.JSONObject
import java.io.File
import java.io.IOException

/**
 * Every signed statement the device made, kept on disk until the fleet service has answered it.
 *
 * A statement is written durably ([DurableFile]) before anything tries to send it, so a process death, a lost
 * network or a lost answer never loses one. Statements go out in the order they were signed (the fleet wants
 * counters in order). The service is idempotent: the identical statement sent again gets the stored answer, so a
 * statement whose answer was lost counts as delivered when it is sent again. A 4xx is final: the statement is
 * dropped with a [Delivery.Rejected] for the driver to see once, and never blocks the ones behind it. Anything else
 * (no network, 5xx) keeps it, with a growing delay before the next try ([backoffSeconds]).
 */
class Outbox(private val dir: File) {
    /** One statement waiting for the fleet. `server` is the base address it goes to. */
    class Item(
        val id: Long,
        val kind: StatementKind,
        val statement: String,
        val server: String,
        val createdAt: Long,
        val attempts: Int,
        val nextAttemptAt: Long,
        val note: JSONObject
    ) {
        internal fun toJson(): String = JSONObject()
            .put("id", id).put("kind", kind.name).put("statement", statement).put("server", server)
            .put("created_at", createdAt).put("attempts", attempts).put("next_attempt_at", nextAttemptAt)
            .put("note", note).toString()

        internal fun retried(now: Long): Item =
            Item(id, kind, statement, server, createdAt, attempts + 1, now + backoffSeconds(attempts + 1), note)

        internal fun resigned(newStatement: String): Item =
            Item(id, kind, newStatement, server, createdAt, 0, 0, note)

        internal companion object {
            fun fromJson(text: String): Item {
                val json = JSONObject(text)
                return Item(
                    json.getLong("id"), StatementKind.valueOf(json.getString("kind")), json.getString("statement"),
                    json.getString("server"), json.getLong("created_at"), json.getInt("attempts"),
                    json.getLong("next_attempt_at"), json.getJSONObject("note")
                )
            }
        }
    }

    /** What one delivery attempt came to. */
    sealed class Delivery(val item: Item) {
        /** The service accepted it (or had already: the same answer again). */
        class Delivered(item: Item, val answer: JSONObject) : Delivery(item)

        /** The service refused it for good (a 4xx); it is dropped. */
        class Rejected(item: Item, val error: FleetError.Refused) : Delivery(item)
    }

    init {
        if (!dir.isDirectory && !dir.mkdirs()) throw IOException("cannot create the outbox at $dir")
    }

    private val sequence = DurableFile(File(dir, "sequence"))

    /** Writes `statement` durably and returns its item: from then on it survives anything but [remove]. */
    @Synchronized
    fun add(kind: StatementKind, statement: String, server: String, now: Long, note: JSONObject = JSONObject()): Item {
        val id = maxOf(sequence.read()?.trim()?.toLongOrNull() ?: 0, items().lastOrNull()?.id ?: 0) + 1
        sequence.write(id.toString())
        val item = Item(id, kind, statement, server, now, 0, 0, note)
        store(item)
        return item
    }

    /** The statements waiting, oldest first. */
    @Synchronized
    fun items(): List<Item> = (dir.listFiles() ?: emptyArray())
        .filter { it.name.endsWith(SUFFIX) && !it.name.startsWith(".") }
        .map { Item.fromJson(it.readText(Charsets.UTF_8)) }
        .sortedBy { it.id }

    @Synchronized
    fun get(id: Long): Item? = items().firstOrNull { it.id == id }

    @Synchronized
    fun isEmpty(): Boolean = items().isEmpty()

    /**
     * Sends what is waiting, in order, through `apiFor(server)`. Each answer is handed to `onAnswer` before the
     * item is removed (so a crash in between sends it again, and the service answers the same). Stops at the first
     * item the service could not take now (no network, 5xx): it and those behind it wait, the first one for its
     * backoff unless `force`. `resign` may replace a stale registration statement once.
     */
    @Synchronized
    fun deliver(
        now: Long,
        force: Boolean,
        apiFor: (String) -> FleetApi,
        resign: (Item) -> String?,
        onAnswer: (Delivery) -> Unit
    ): Boolean {
        for (waiting in items()) {
            if (!force && waiting.nextAttemptAt > now) return false
            var item = waiting
            var resigned = false
            while (true) {
                try {
                    val answer = apiFor(item.server).deliver(item.kind, item.statement)
                    onAnswer(Delivery.Delivered(item, answer))
                    remove(item.id)
                } catch (e: FleetError.Refused) {
                    if (e.retryable) {
                        store(item.retried(now))
                        return false
                    }
                    val fresh = if (!resigned && e.code == "stale" && item.kind == StatementKind.REGISTRATION) resign(item) else null
                    if (fresh != null) {
                        item = item.resigned(fresh)
                        store(item)
                        resigned = true
                        continue
                    }
                    onAnswer(Delivery.Rejected(item, e))
                    remove(item.id)
                } catch (e: FleetError) {
                    store(item.retried(now))
                    return false
                }
                break
            }
        }
        return true
    }

    @Synchronized
    fun remove(id: Long) {
        DurableFile(fileOf(id)).delete()
    }

    private fun store(item: Item) = DurableFile(fileOf(item.id)).write(item.toJson())

    private fun fileOf(id: Long) = File(dir, String.format("%016d", id) + SUFFIX)

    companion object {
        private const val SUFFIX = ".statement.json"

        /** Seconds before the next try after `attempts` failed ones: 30 s doubling, at most an hour. */
        fun backoffSeconds(attempts: Int): Long = minOf(3600L, 30L shl minOf(attempts - 1, 7).coerceAtLeast(0))
    }
}
