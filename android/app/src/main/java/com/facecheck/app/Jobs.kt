package com.facecheck.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import com.facecheck.flow.CheckInFlow

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

/**
 * The retention rule, applied even when the app is not opened: once a day the vault is opened (which wipes a
 * template past its retention deadline) and a wiped one is erased for good through the flow, its receipt going to
 * the fleet through the outbox. Scheduled at every app start (once: an existing job is kept), kept across reboots.
 */
class RetentionJob : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        Thread {
            try {
                if (Engine.vaultFile(this).exists() && Engine.get(this).status().isErasureDue) {
                    val flow = AppFlow.get(this)
                    flow.erase()
                    OutboxJob.scheduleIfNeeded(this, flow)
                }
            } catch (e: Throwable) {
                // An unreadable vault, a lost key: the driver sees it in the app; nothing to retry here.
            }
            jobFinished(params, false)
        }.start()
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean = true

    companion object {
        private const val JOB_ID = 4102
        private const val DAY_MS = 24L * 60 * 60 * 1000

        fun schedule(context: Context) {
            val scheduler = context.getSystemService(JobScheduler::class.java)
            if (scheduler.allPendingJobs.any { it.id == JOB_ID }) return
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, RetentionJob::class.java))
                .setPeriodic(DAY_MS)
                .setPersisted(true)
                .build()
            scheduler.schedule(job)
        }
    }
}
