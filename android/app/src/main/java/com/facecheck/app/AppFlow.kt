package com.facecheck.app

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
