package com.facecheck.app

import android.app.Activity
import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout
import com.facecheck.api.Facecheck
import com.facecheck.api.FacecheckException
import com.facecheck.api.Status

/**
 * My data: who this phone is enrolled as (fleet, driver, server: from the enrollment code), when the face was
 * enrolled, when it will be deleted automatically, any lock-out; "reset this phone" (erase the face data and its
 * key: the signed receipt goes to the fleet through the outbox, now or when a network is back); the consent notice.
 */
class SettingsActivity : Activity() {
    private lateinit var settings: Settings
    private lateinit var content: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        settings = Settings(this)
        content = column()
        setScreen(scrolling(content))
        load()
    }

    private fun load() {
        Background.run(this, { Engine.get(this).status() }, { error -> render(null, error) }) { status ->
            render(status, null)
        }
    }

    private fun render(status: Status?, error: Throwable?) {
        content.removeAllViews()
        content.addView(text(getString(R.string.settings_title), 22f, bold = true))
        AppFlow.get(this).profile?.let { profile ->
            content.addView(text(getString(R.string.profile_line, profile.driver, profile.fleet, profile.server), 14f))
        }
        if (status != null && status.isEnrolled) {
            content.addView(text(getString(R.string.status_enrolled_since, formatDate(status.enrolledAt()!!))))
            content.addView(text(getString(R.string.status_deadline, formatDate(status.retentionDeadline()!!))))
            status.lockedUntil()?.let { content.addView(text(getString(R.string.status_locked, formatTime(it)))) }
            if (status.isLockedUntilReenrolled) content.addView(text(getString(R.string.status_locked_until_reenrolled)))
            content.addView(button(getString(R.string.erase)) { confirmErase() })
        } else if (status != null) {
            content.addView(text(getString(R.string.status_not_enrolled)))
        }
        if (error is FacecheckException.WrongKey || error is FacecheckException.VaultCorrupt || error is VaultKeyLost) {
            // The vault cannot be read, so no receipt can be signed: the only way out is to delete the file.
            content.addView(text(explain(error)))
            content.addView(button(getString(R.string.erase)) {
                confirm {
                    Engine.deleteUnreadableVault(this)
                    AppFlow.get(this).forgetEnrollment()
                    load()
                }
            })
        } else if (error != null) {
            content.addView(text(explain(error)))
        }
        if (settings.consentAt > 0) {
            val given = getString(R.string.consent_accepted_on, formatTime(settings.consentAt), settings.consentVersion)
            content.addView(text(given, 14f))
        }
        content.addView(button(getString(R.string.show_notice)) {
            startActivity(Intent(this, ConsentActivity::class.java).putExtra(ConsentActivity.EXTRA_REVIEW, true))
        })
        content.addView(button(getString(R.string.licences)) { showLicences() })
    }

    /** The third-party notices the build put in the APK's assets (scripts/third-party-notices.py). */
    private fun showLicences() {
        Background.run(this, {
            assets.open(NOTICES).use { String(Facecheck.readAll(it), Charsets.UTF_8) }
        }, { error -> alert(explain(error)) }) { notices ->
            alert(notices, getString(R.string.licences))
        }
    }

    companion object {
        /** The asset build-apk.sh writes. */
        const val NOTICES = "THIRD_PARTY_NOTICES.txt"
    }

    private fun confirm(then: () -> Unit) {
        AlertDialog.Builder(this)
            .setMessage(R.string.erase_confirm)
            .setPositiveButton(R.string.yes) { _, _ -> then() }
            .setNegativeButton(R.string.cancel, null)
            .show()
    }

    /** Erases the face data and its key (the core signs a receipt first); the flow delivers the receipt. */
    private fun confirmErase() = confirm {
        Background.run(this, {
            val flow = AppFlow.get(this)
            flow.erase()
            OutboxJob.scheduleIfNeeded(this, flow)
            flow.outbox.isEmpty()
        }, { error -> alert(explain(error)) }) { sent ->
            alert(getString(if (sent) R.string.erase_done else R.string.erase_done_offline)) { load() }
        }
    }
}
