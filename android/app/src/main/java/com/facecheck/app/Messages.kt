package com.facecheck.app

import android.app.Activity
import com.facecheck.api.FacecheckException
import java.io.IOException

/**
 * What to tell the driver about a failed call: the actionable text, never a stack trace or a code. Every
 * [Throwable] of the worker thread ends here ([Background]), the JVM's errors included:
 * - a [LinkageError] (`UnsatisfiedLinkError` from loading `libfacecheck_jni.so`, or a `NoClassDefFoundError` after
 *   it failed) means the phone cannot run the native library: the APK carries arm64-v8a only, so a 32-bit-only
 *   or x86 phone lands here;
 * - any other [Error] (out of memory, ...) gets a generic text without details.
 */
fun Activity.explain(error: Throwable): String = when (error) {
    is FacecheckException.NoFace -> getString(R.string.result_no_face)
    is FacecheckException.PoorQuality ->
        if (error.reason() == "inconsistent") getString(R.string.enroll_inconsistent) else error.message ?: ""
    is FacecheckException.SpoofSuspected -> getString(R.string.enroll_spoof)
    is FacecheckException.WrongKey, is FacecheckException.VaultCorrupt -> getString(R.string.vault_unreadable)
    is FacecheckException.VaultRolledBack -> getString(R.string.vault_rolled_back)
    is FacecheckException.InvalidState ->
        if (error.reason() == "not_enrolled") getString(R.string.result_not_enrolled)
        else getString(R.string.error_generic, error.message)
    is IOException -> getString(R.string.network_failed, error.message)
    is LinkageError -> getString(R.string.phone_not_supported)
    is Exception -> getString(R.string.error_generic, error.message)
    else -> getString(R.string.error_internal)
}
