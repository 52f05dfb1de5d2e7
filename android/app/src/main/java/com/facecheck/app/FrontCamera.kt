package com.facecheck.app

import android.app.Activity
import android.hardware.Camera
import android.os.Handler
import android.os.Looper
import android.os.SystemClock
import android.view.OrientationEventListener
import android.view.Surface
import android.view.SurfaceHolder
import android.view.SurfaceView
import com.facecheck.api.Frame

/**
 * The front camera through `android.hardware.Camera` (the API of level 23; camera2 would add much code for
 * nothing needed here). Selfies are taken in the app, as JPEG bytes in memory: they never go through another app,
 * the gallery or storage, which an `ACTION_IMAGE_CAPTURE` intent could not promise.
 *
 * The JPEG's orientation is set with [Camera.Parameters.setRotation] at the moment of the shot, from how the phone
 * is held ([OrientationEventListener]), not from the screen, which stays portrait: a phone in a landscape dash
 * mount still gives an upright face (the camera rotates or writes EXIF; the core reads EXIF). Its size is the
 * smallest picture size of at least [MIN_LONG_SIDE] pixels: plenty for a face at arm's length, and quick to
 * decode. The preview has the picture's aspect ratio (the view's height follows it): what the driver sees is what
 * is taken, undistorted. A shot that fails or does not come back within [SHOT_TIMEOUT_MS] is an error, never an
 * endless wait.
 *
 * For the active check the preview is recorded instead ([startRecording]): NV21 frames as the camera delivers them
 * (the sensor's orientation, not mirrored, like the JPEG), at most one every [FRAME_INTERVAL_MS], each with the
 * rotation that makes it upright and its time on the monotonic clock; the core converts and checks them.
 */
@Suppress("DEPRECATION") // android.hardware.Camera is deprecated from API 21 but is the simplest API at level 23
class FrontCamera(private val activity: Activity) : SurfaceHolder.Callback {
    val preview = SurfaceView(activity)
    private var camera: Camera? = null
    private var cameraId = -1
    private var surfaceReady = false
    private var deviceDegrees = 0
    private val main = Handler(Looper.getMainLooper())
    private val orientation = object : OrientationEventListener(activity) {
        override fun onOrientationChanged(degrees: Int) {
            if (degrees != ORIENTATION_UNKNOWN) deviceDegrees = ((degrees + 45) / 90 * 90) % 360
        }
    }

    init {
        preview.holder.addCallback(this)
    }

    /** Opens the camera; false if the phone has no front camera or it is in use. */
    fun open(): Boolean {
        if (camera != null) return true
        val info = Camera.CameraInfo()
        cameraId = (0 until Camera.getNumberOfCameras()).firstOrNull { id ->
            Camera.getCameraInfo(id, info)
            info.facing == Camera.CameraInfo.CAMERA_FACING_FRONT
        } ?: -1
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
        // The preview size closest in aspect to the picture (then the largest), and the view shaped to it.
        val aspect = size.width.toDouble() / size.height
        val previewSize = parameters.supportedPreviewSizes.sortedWith(
            compareBy<Camera.Size> { Math.abs(it.width.toDouble() / it.height - aspect) }.thenByDescending { it.width }
        ).first()
        parameters.setPreviewSize(previewSize.width, previewSize.height)
        fitPreview(previewSize.width.toDouble() / previewSize.height)
        if (parameters.supportedFocusModes.contains(Camera.Parameters.FOCUS_MODE_CONTINUOUS_PICTURE)) {
            parameters.focusMode = Camera.Parameters.FOCUS_MODE_CONTINUOUS_PICTURE
        }
        opened.parameters = parameters
        if (orientation.canDetectOrientation()) orientation.enable()
        camera = opened
        if (surfaceReady) startPreview()
        return true
    }

    /**
     * Takes one picture, upright for how the phone is held now, and hands its JPEG bytes to [onJpeg] on the main
     * thread (the preview restarts after); [onError] instead if the camera fails or does not answer in time.
     */
    fun takePicture(onJpeg: (ByteArray) -> Unit, onError: () -> Unit) {
        val current = camera ?: return onError()
        var answered = false
        val timeout = Runnable {
            if (!answered) {
                answered = true
                close()
                onError()
            }
        }
        try {
            val info = Camera.CameraInfo()
            Camera.getCameraInfo(cameraId, info)
            val parameters = current.parameters
            // Front camera: the sensor's orientation minus the phone's (the picture is not mirrored).
            parameters.setRotation((info.orientation - deviceDegrees + 360) % 360)
            current.parameters = parameters
            current.takePicture(null, null, Camera.PictureCallback { data, cam ->
                main.removeCallbacks(timeout)
                if (answered) return@PictureCallback
                answered = true
                cam.startPreview()
                onJpeg(data)
            })
            main.postDelayed(timeout, SHOT_TIMEOUT_MS)
        } catch (e: RuntimeException) {
            answered = true
            onError()
        }
    }

    /**
     * Records preview frames for the head turn, which lasts about `durationMs`: a copy of the NV21 buffer goes to
     * [onFrame] on the main thread every [FRAME_INTERVAL_MS] at most, until [stopRecording]. The frames stay within
     * [RECORDING_BUDGET_BYTES] and [MAX_RECORDED_FRAMES] (the core refuses more than 64 MiB or 64 frames): a large
     * preview is recorded less often, so that the whole turn is still covered. False if the camera is not open.
     */
    fun startRecording(durationMs: Long, onFrame: (Frame) -> Unit): Boolean {
        val current = camera ?: return false
        val size = current.parameters.previewSize
        val info = Camera.CameraInfo()
        Camera.getCameraInfo(cameraId, info)
        val bufferSize = size.width * size.height * 3 / 2
        val fitting = minOf(MAX_RECORDED_FRAMES.toLong(), RECORDING_BUDGET_BYTES / bufferSize).coerceAtLeast(1)
        val interval = maxOf(FRAME_INTERVAL_MS, durationMs / fitting)
        var last = 0L
        var recorded = 0L
        repeat(2) { current.addCallbackBuffer(ByteArray(bufferSize)) }
        current.setPreviewCallbackWithBuffer { data, cam ->
            val now = SystemClock.elapsedRealtime()
            if (data != null && now - last >= interval && recorded < fitting) {
                last = now
                recorded++
                // Front camera: the sensor's orientation minus the phone's, as for the JPEG.
                val rotation = (info.orientation - deviceDegrees + 360) % 360
                onFrame(Frame.nv21(data.copyOf(), size.width, size.height, rotation, now))
            }
            cam.addCallbackBuffer(data)
        }
        return true
    }

    /** Stops [startRecording]; the preview goes on. */
    fun stopRecording() {
        camera?.setPreviewCallbackWithBuffer(null)
    }

    /** The preview view's height for its width, at the preview's aspect (the screen is portrait: taller than wide). */
    private fun fitPreview(landscapeAspect: Double) {
        preview.post {
            val params = preview.layoutParams ?: return@post
            if (preview.width > 0) {
                params.height = (preview.width * landscapeAspect).toInt()
                preview.layoutParams = params
            }
        }
    }

    fun close() {
        orientation.disable()
        camera?.setPreviewCallbackWithBuffer(null)
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

        /** How long a shot may take before it counts as failed. */
        const val SHOT_TIMEOUT_MS = 8_000L

        /** At most one recorded preview frame per this many milliseconds. */
        const val FRAME_INTERVAL_MS = 150L

        /** Most preview frames one head turn records (the core takes 64). */
        const val MAX_RECORDED_FRAMES = 48

        /** Most bytes of preview frames one head turn records (the core takes 64 MiB). */
        const val RECORDING_BUDGET_BYTES = 48L shl 20
    }
}
