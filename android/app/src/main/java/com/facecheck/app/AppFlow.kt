package com.facecheck.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import com.facecheck.api.Facecheck
import com.facecheck.flow.CheckInFlow
import com.facecheck.flow.Device
import com.facecheck.flow.FleetApi
import com.facecheck.flow.HttpTransport
import java.io.File

/**
 * The app's one check-in flow (`android/flow`: the protocol, the outbox, the state that survives the process), on
 * the Keystore-backed engine, with its files in no-backup private storage. Activities only render its state and
 * forward the driver's actions to it, from [Background].
 */
object AppFlow {
    private var flow: CheckInFlow? = null

    @Synchronized
    fun get(context: Context): CheckInFlow {
        flow?.let { return it }
        val app = context.applicationContext
        val created = CheckInFlow(File(app.noBackupFilesDir, "flow"), AppDevice(app), { server ->
            FleetApi(HttpTransport(server))
        })
        flow = created
        return created
    }
}

/** The engine of [Engine] on the vault key of [VaultKey]; retiring the key deletes its Keystore alias. */
private class AppDevice(private val context: Context) : Device {
    override fun engine(): Facecheck = Engine.get(context)

    override fun retireKey() {
        Engine.close()
        VaultKey.forget(context)
    }
}

/**
 * Sends the outbox when a network is available: scheduled whenever a statement could not be sent, kept across
 * reboots, retried by the system with exponential backoff until the outbox is empty (a 4xx empties it too: the
 * statement is dropped with a notice, see `Outbox`).
 */
class OutboxJob : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        Thread {
            val empty = try {
                val flow = AppFlow.get(this)
                flow.deliverOutbox(force = true)
                flow.outbox.isEmpty()
            } catch (e: Throwable) {
                false
            }
            jobFinished(params, !empty)
        }.start()
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean = true

    companion object {
        private const val JOB_ID = 4101

        /** Asks the system to run the job once a network is available (replacing a pending one). */
        fun schedule(context: Context) {
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, OutboxJob::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .setBackoffCriteria(30_000, JobInfo.BACKOFF_POLICY_EXPONENTIAL)
                .setPersisted(true)
                .build()
            context.getSystemService(JobScheduler::class.java).schedule(job)
        }

        /** Schedules the job if anything waits. */
        fun scheduleIfNeeded(context: Context, flow: CheckInFlow) {
            if (!flow.outbox.isEmpty()) schedule(context)
        }
    }
}
