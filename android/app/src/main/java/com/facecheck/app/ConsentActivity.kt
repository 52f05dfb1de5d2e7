package com.facecheck.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.CheckBox

/**
 * The launcher screen. Until the driver has accepted the current notice it shows the written notice (what is
 * collected, why, where it stays, for how long, how to erase it), an explicit acceptance, and the alternative;
 * afterwards it goes straight on to check-in (or to enrollment, when nothing is enrolled yet).
 */
class ConsentActivity : Activity() {
    private lateinit var settings: Settings

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        settings = Settings(this)
        RetentionJob.schedule(this)
        val review = intent.getBooleanExtra(EXTRA_REVIEW, false)
        if (!review && settings.consentVersion == getString(R.string.consent_version)) {
            startActivity(Intent(this, CheckInActivity::class.java))
            finish()
            return
        }
        val agree = CheckBox(this)
        agree.setText(R.string.consent_checkbox)
        val accept = button(getString(R.string.consent_accept)) { accept() }
        accept.isEnabled = false
        agree.setOnCheckedChangeListener { _, checked -> accept.isEnabled = checked }
        val decline = button(getString(R.string.consent_decline)) {
            alert(getString(R.string.consent_alternative), getString(R.string.consent_alternative_title))
        }
        val content = column(text(getString(R.string.consent_title), 22f, bold = true), text(html(R.string.consent_notice)))
        if (settings.consentAt > 0) {
            val given = getString(R.string.consent_accepted_on, formatTime(settings.consentAt), settings.consentVersion)
            content.addView(text(given, 14f))
        }
        if (!review) {
            content.addView(agree)
            content.addView(accept)
            content.addView(decline)
        }
        setScreen(scrolling(content))
    }

    /** Records the acceptance (when, and of which notice) and goes on to enrollment. */
    private fun accept() {
        settings.consentAt = System.currentTimeMillis() / 1000
        settings.consentVersion = getString(R.string.consent_version)
        startActivity(Intent(this, EnrollActivity::class.java))
        finish()
    }

    companion object {
        /** Show the notice again, read-only (from the settings screen). */
        const val EXTRA_REVIEW = "review"
    }
}
