package com.facecheck.app

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager

/**
 * What the enrollment and check-in screens share: the front camera, open only while a selfie is wanted (the
 * system's camera indicator must not light up for nothing), and the runtime camera permission.
 */
abstract class CameraScreen : Activity() {
    protected lateinit var camera: FrontCamera
    private var wantCamera = false

    /** Opens the camera now (asking for the permission first if needed) and again after each pause. */
    protected fun startCamera() {
        wantCamera = true
        if (checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            openCamera()
        } else {
            requestPermissions(arrayOf(Manifest.permission.CAMERA), REQUEST_CAMERA)
        }
    }

    /** From `onCreate`: the camera opens in `onResume`. */
    protected fun cameraFromStart() {
        wantCamera = true
    }

    protected fun stopCamera() {
        wantCamera = false
        camera.close()
    }

    override fun onResume() {
        super.onResume()
        if (wantCamera) startCamera()
    }

    override fun onPause() {
        camera.close()
        super.onPause()
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<String>, grantResults: IntArray) {
        if (requestCode != REQUEST_CAMERA) return
        if (grantResults.isNotEmpty() && grantResults[0] == PackageManager.PERMISSION_GRANTED) {
            openCamera()
        } else {
            wantCamera = false
            alert(getString(R.string.camera_denied))
        }
    }

    private fun openCamera() {
        if (!camera.open()) alert(getString(R.string.camera_failed))
    }

    companion object {
        private const val REQUEST_CAMERA = 1
    }
}
