package com.facecheck.app

import android.app.Activity
import com.facecheck.api.FacecheckException
import java.io.IOException

/** What to tell the driver about a failed call: the actionable text, never a stack trace or a code. */
fun Activity.explain(error: Exception): String = when (error) {
    is FacecheckException.NoFace -> getString(R.string.result_no_face)
    is FacecheckException.PoorQuality ->
        if (error.reason() == "inconsistent") getString(R.string.enroll_inconsistent) else error.message ?: ""
    is FacecheckException.SpoofSuspected -> getString(R.string.enroll_spoof)
    is FacecheckException.WrongKey, is FacecheckException.VaultCorrupt -> getString(R.string.vault_unreadable)
    is FacecheckException.InvalidState ->
        if (error.reason() == "not_enrolled") getString(R.string.result_not_enrolled)
        else getString(R.string.error_generic, error.message)
    is IOException -> getString(R.string.network_failed, error.message)
    else -> getString(R.string.error_generic, error.message)
}
