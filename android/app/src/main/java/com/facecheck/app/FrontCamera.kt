package com.facecheck.app

import android.app.Activity
import android.hardware.Camera
import android.view.Surface
import android.view.SurfaceHolder
import android.view.SurfaceView

/**
 * The front camera through `android.hardware.Camera` (the API of level 23; camera2 would add much code for
 * nothing needed here). Selfies are taken in the app, as JPEG bytes in memory: they never go through another app,
 * the gallery or storage, which an `ACTION_IMAGE_CAPTURE` intent could not promise.
 *
 * The JPEG's orientation is set with [Camera.Parameters.setRotation] (the camera rotates or writes EXIF; the core
 * reads EXIF), and its size is the smallest picture size of at least [MIN_LONG_SIDE] pixels: plenty for a face
 * at arm's length, and quick to decode.
 */
@Suppress("DEPRECATION") // android.hardware.Camera is deprecated from API 21 but is the simplest API at level 23
class FrontCamera(private val activity: Activity) : SurfaceHolder.Callback {
    val preview = SurfaceView(activity)
    private var camera: Camera? = null
    private var cameraId = -1
    private var surfaceReady = false

    init {
        preview.holder.addCallback(this)
    }

    /** Opens the camera; false if the phone has no front camera or it is in use. */
    fun open(): Boolean {
        if (camera != null) return true
        val info = Camera.CameraInfo()
        for (id in 0 until Camera.getNumberOfCameras()) {
            Camera.getCameraInfo(id, info)
            if (info.facing == Camera.CameraInfo.CAMERA_FACING_FRONT) cameraId = id
        }
        if (cameraId < 0) return false
        val opened = try {
            Camera.open(cameraId)
        } catch (e: RuntimeException) {
            return false
        }
        Camera.getCameraInfo(cameraId, info)
        val degrees = when (activity.windowManager.defaultDisplay.rotation) {
            Surface.ROTATION_90 -> 90
            Surface.ROTATION_180 -> 180
            Surface.ROTATION_270 -> 270
            else -> 0
        }
        // The preview is mirrored for the front camera; the picture is not, and is rotated upright.
        opened.setDisplayOrientation((360 - (info.orientation + degrees) % 360) % 360)
        val parameters = opened.parameters
        parameters.setRotation((info.orientation + degrees) % 360)
        parameters.pictureFormat = android.graphics.ImageFormat.JPEG
        parameters.jpegQuality = 90
        val sizes = parameters.supportedPictureSizes.sortedBy { it.width * it.height }
        val size = sizes.firstOrNull { maxOf(it.width, it.height) >= MIN_LONG_SIDE } ?: sizes.last()
        parameters.setPictureSize(size.width, size.height)
        if (parameters.supportedFocusModes.contains(Camera.Parameters.FOCUS_MODE_CONTINUOUS_PICTURE)) {
            parameters.focusMode = Camera.Parameters.FOCUS_MODE_CONTINUOUS_PICTURE
        }
        opened.parameters = parameters
        camera = opened
        if (surfaceReady) startPreview()
        return true
    }

    /** Takes one picture and hands its JPEG bytes to [onJpeg] on the main thread; the preview restarts after. */
    fun takePicture(onJpeg: (ByteArray) -> Unit) {
        val current = camera ?: return
        current.takePicture(null, null, Camera.PictureCallback { data, cam ->
            cam.startPreview()
            onJpeg(data)
        })
    }

    fun close() {
        camera?.stopPreview()
        camera?.release()
        camera = null
    }

    private fun startPreview() {
        val current = camera ?: return
        current.setPreviewDisplay(preview.holder)
        current.startPreview()
    }

    override fun surfaceCreated(holder: SurfaceHolder) {
        surfaceReady = true
        startPreview()
    }

    override fun surfaceChanged(holder: SurfaceHolder, format: Int, width: Int, height: Int) {}

    override fun surfaceDestroyed(holder: SurfaceHolder) {
        surfaceReady = false
        camera?.stopPreview()
    }

    companion object {
        const val MIN_LONG_SIDE = 1280
    }
}
