package com.facecheck.app

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager
import android.view.View
import android.view.WindowManager
import android.widget.TextView
import com.facecheck.flow.CaptureHint

/**
 * What the enrollment and check-in screens share: the front camera, open only while a selfie is wanted (the
 * system's camera indicator must not light up for nothing), the runtime camera permission, the capture hints under
 * the preview, and the screen as a flash in the dark.
 *
 * The flash: the screens are light already (a white page around the preview), so turning the display to full
 * brightness lights the driver's face. It comes on when the preview is dark ([CaptureHint.MORE_LIGHT]) or the core
 * refused a selfie as `too_dark` ([lightNextShot]), and stays on until the camera stops, so it never flickers with
 * the light it makes.
 */
abstract class CameraScreen : Activity() {
    protected lateinit var camera: FrontCamera
    private var wantCamera = false
    private var lit = false

    /** Set when the core refused a selfie as too dark: the screen lights up while the camera is on next. */
    protected var lightNextShot = false

    /**
     * The line under the preview that says what to fix before the shot (announced to TalkBack when it changes);
     * call once, after [camera] is made.
     */
    protected fun hintView(): TextView {
        val view = text("", 16f)
        view.accessibilityLiveRegion = View.ACCESSIBILITY_LIVE_REGION_POLITE
        camera.onHint = { hint ->
            view.text = hintText(hint)
            if (hint == CaptureHint.MORE_LIGHT) lightScreen(true)
        }
        return view
    }

    private fun hintText(hint: CaptureHint): String = getString(
        when (hint) {
            CaptureHint.NO_FACE -> R.string.hint_no_face
            CaptureHint.SEVERAL_FACES -> R.string.hint_several_faces
            CaptureHint.MOVE_CLOSER -> R.string.hint_move_closer
            CaptureHint.MOVE_BACK -> R.string.hint_move_back
            CaptureHint.CENTRE -> R.string.hint_centre
            CaptureHint.MORE_LIGHT -> R.string.hint_more_light
            CaptureHint.READY -> R.string.hint_ready
        }
    )

    /** The display at full brightness (on) or as the system sets it (off). */
    private fun lightScreen(on: Boolean) {
        if (on == lit) return
        lit = on
        val attributes = window.attributes
        attributes.screenBrightness = if (on) 1f else WindowManager.LayoutParams.BRIGHTNESS_OVERRIDE_NONE
        window.attributes = attributes
    }

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
        lightScreen(false)
    }

    override fun onResume() {
        super.onResume()
        if (wantCamera) startCamera()
    }

    override fun onPause() {
        camera.close()
        lightScreen(false)
        super.onPause()
    }

    override fun onDestroy() {
        camera.release()
        super.onDestroy()
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
        if (lightNextShot) lightScreen(true)
        camera.open { opened ->
            if (!opened && !isFinishing) alert(getString(R.string.camera_failed))
        }
    }

    companion object {
        private const val REQUEST_CAMERA = 1
    }
}
