package com.facecheck.app

import android.app.Activity
import android.graphics.ImageFormat
import android.graphics.Rect
import android.graphics.YuvImage
import android.hardware.Camera
import android.os.Handler
import android.os.HandlerThread
import android.os.Looper
import android.os.SystemClock
import android.view.OrientationEventListener
import android.view.Surface
import android.view.SurfaceHolder
import android.view.SurfaceView
import android.view.ViewGroup
import android.widget.FrameLayout
import com.facecheck.api.Frame
import com.facecheck.flow.CaptureHint
import com.facecheck.flow.Nv21
import com.facecheck.flow.SeenFace
import java.io.ByteArrayOutputStream
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

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
 *
 * A selfie is a burst ([takeBurst]): [BURST_PREVIEW_FRAMES] preview frames, turned upright and encoded as JPEGs,
 * then the still; the core picks the best of them, so one blurred or blinking frame in a moving vehicle does not
 * cost an attempt.
 *
 * Before the shot, [onHint] gets a [CaptureHint] whenever it changes: from the camera's own face detection (where
 * the phone has it) and the preview's mean brightness, sampled every [LUMA_INTERVAL_MS]. The preview carries an oval
 * face guide ([FaceGuide]) that turns green when the hint is [CaptureHint.READY].
 *
 * Threads: the camera is opened and driven on its own thread ([worker]), so a slow camera never stalls the screen;
 * every callback given to this class runs on the main thread. [release] ends the thread (from `onDestroy`).
 */
@Suppress("DEPRECATION") // android.hardware.Camera is deprecated from API 21 but is the simplest API at level 23
class FrontCamera(private val activity: Activity) : SurfaceHolder.Callback {
    private val preview = SurfaceView(activity)
    private val guide = FaceGuide(activity)

    /** What the screens lay out: the preview with the face guide over it. */
    val view = FrameLayout(activity).apply {
        val fill = ViewGroup.LayoutParams.MATCH_PARENT
        addView(preview, FrameLayout.LayoutParams(fill, fill))
        addView(guide, FrameLayout.LayoutParams(fill, fill))
    }

    /** Gets each new capture hint, on the main thread. */
    var onHint: (CaptureHint) -> Unit = {}

    private val thread = HandlerThread("facecheck-camera").apply { start() }
    private val worker = Handler(thread.looper)
    private val main = Handler(Looper.getMainLooper())

    // Camera state: read and written on the worker thread only.
    private var camera: Camera? = null
    private var cameraId = -1
    private var info = Camera.CameraInfo()
    private var previewWidth = 0
    private var previewHeight = 0
    private var faces: List<SeenFace>? = null
    private var meanLuma: Int? = null
    private var lastLumaAt = 0L
    private var recorder: Recorder? = null
    private var burst: Burst? = null

    // Shared with the worker thread.
    @Volatile private var surfaceReady = false
    @Volatile private var deviceDegrees = 0

    // Main thread.
    private var hint: CaptureHint? = null
    private val orientation = object : OrientationEventListener(activity) {
        override fun onOrientationChanged(degrees: Int) {
            if (degrees != ORIENTATION_UNKNOWN) deviceDegrees = ((degrees + 45) / 90 * 90) % 360
        }
    }

    init {
        preview.holder.addCallback(this)
    }

    /**
     * Opens the camera on its thread, then calls [onOpened] on the main thread: false if the phone has no front
     * camera or it is in use.
     */
    fun open(onOpened: (Boolean) -> Unit) {
        val degrees = when (activity.windowManager.defaultDisplay.rotation) {
            Surface.ROTATION_90 -> 90
            Surface.ROTATION_180 -> 180
            Surface.ROTATION_270 -> 270
            else -> 0
        }
        if (orientation.canDetectOrientation()) orientation.enable()
        worker.post {
            val opened = camera != null || openOnWorker(degrees)
            main.post { onOpened(opened) }
        }
    }

    private fun openOnWorker(displayDegrees: Int): Boolean {
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
        try {
            // The preview is mirrored for the front camera; the picture is not, and is rotated upright.
            opened.setDisplayOrientation((360 - (info.orientation + displayDegrees) % 360) % 360)
            val parameters = opened.parameters
            parameters.setRotation((info.orientation + displayDegrees) % 360)
            parameters.pictureFormat = android.graphics.ImageFormat.JPEG
            parameters.jpegQuality = 90
            val sizes = parameters.supportedPictureSizes.sortedBy { it.width * it.height }
            val size = sizes.firstOrNull { maxOf(it.width, it.height) >= MIN_LONG_SIDE } ?: sizes.last()
            parameters.setPictureSize(size.width, size.height)
            // The preview size closest in aspect to the picture (then the largest), and the view shaped to it.
            val aspect = size.width.toDouble() / size.height
            val previewSize = parameters.supportedPreviewSizes.sortedWith(
                compareBy<Camera.Size> { Math.abs(it.width.toDouble() / it.height - aspect) }
                    .thenByDescending { it.width }
            ).first()
            parameters.setPreviewSize(previewSize.width, previewSize.height)
            previewWidth = previewSize.width
            previewHeight = previewSize.height
            fitPreview(previewSize.width.toDouble() / previewSize.height)
            if (parameters.supportedFocusModes.contains(Camera.Parameters.FOCUS_MODE_CONTINUOUS_PICTURE)) {
                parameters.focusMode = Camera.Parameters.FOCUS_MODE_CONTINUOUS_PICTURE
            }
            opened.parameters = parameters
        } catch (e: RuntimeException) {
            opened.release()
            return false
        }
        camera = opened
        faces = null
        meanLuma = null
        if (surfaceReady) startPreview()
        return true
    }

    /**
     * Takes one picture, upright for how the phone is held now, and hands its JPEG bytes to [onJpeg] on the main
     * thread (the preview restarts after); [onError] instead if the camera fails or does not answer in time.
     */
    fun takePicture(onJpeg: (ByteArray) -> Unit, onError: () -> Unit) {
        var answered = false // main thread
        val answer = { deliver: () -> Unit ->
            if (!answered) {
                answered = true
                deliver()
            }
        }
        val timeout = Runnable {
            answer {
                close()
                onError()
            }
        }
        main.postDelayed(timeout, SHOT_TIMEOUT_MS)
        val held = deviceDegrees
        worker.post {
            val current = camera
            if (current == null) {
                main.post { main.removeCallbacks(timeout); answer(onError) }
                return@post
            }
            try {
                val parameters = current.parameters
                // Front camera: the sensor's orientation minus the phone's (the picture is not mirrored).
                parameters.setRotation((info.orientation - held + 360) % 360)
                current.parameters = parameters
                current.takePicture(null, null, Camera.PictureCallback { data, cam ->
                    cam.startPreview()
                    startFaceDetection(cam)
                    main.post {
                        main.removeCallbacks(timeout)
                        answer { onJpeg(data) }
                    }
                })
            } catch (e: RuntimeException) {
                main.post { main.removeCallbacks(timeout); answer(onError) }
            }
        }
    }

    /** The preview frames of a burst being collected (worker thread). */
    private class Burst(val onJpegs: (List<ByteArray>) -> Unit) {
        val jpegs = ArrayList<ByteArray>()
        var last = 0L
    }

    /**
     * A burst for one selfie: [BURST_PREVIEW_FRAMES] preview frames [FRAME_INTERVAL_MS] apart, each turned upright
     * and encoded as a JPEG on the camera's thread, then the still ([takePicture]); [onJpegs] gets the still first,
     * on the main thread. If the preview gives no frames within [BURST_TIMEOUT_MS], the still alone; [onError] if
     * the still fails. The JPEGs exist only in memory: the caller overwrites them after use.
     */
    fun takeBurst(onJpegs: (List<ByteArray>) -> Unit, onError: () -> Unit) {
        var done = false // main thread
        val shoot = { preview: List<ByteArray> ->
            if (!done) {
                done = true
                takePicture({ still -> onJpegs(listOf(still) + preview) }, {
                    preview.forEach { it.fill(0) }
                    onError()
                })
            }
        }
        val timeout = Runnable { worker.post { burst = null }; shoot(emptyList()) }
        main.postDelayed(timeout, BURST_TIMEOUT_MS)
        worker.post {
            burst = Burst { jpegs ->
                main.post {
                    main.removeCallbacks(timeout)
                    if (done) jpegs.forEach { it.fill(0) } else shoot(jpegs)
                }
            }
        }
    }

    /** One preview frame into the burst being collected (worker thread); the burst ends at its last frame. */
    private fun addToBurst(b: Burst, data: ByteArray, now: Long) {
        if (now - b.last < FRAME_INTERVAL_MS) return
        b.last = now
        val rotation = (info.orientation - deviceDegrees + 360) % 360
        val upright = Nv21.rotate(data, previewWidth, previewHeight, rotation)
        val (w, h) = if (rotation % 180 == 0) previewWidth to previewHeight else previewHeight to previewWidth
        val out = ByteArrayOutputStream()
        YuvImage(upright, ImageFormat.NV21, w, h, null).compressToJpeg(Rect(0, 0, w, h), BURST_JPEG_QUALITY, out)
        upright.fill(0)
        b.jpegs.add(out.toByteArray())
        if (b.jpegs.size == BURST_PREVIEW_FRAMES) {
            burst = null
            b.onJpegs(b.jpegs)
        }
    }

    /** The head turn being recorded: what [startRecording] asked for (worker thread). */
    private class Recorder(val interval: Long, val most: Long, val onFrame: (Frame) -> Unit) {
        var last = 0L
        var recorded = 0L
    }

    /**
     * Records preview frames for the head turn, which lasts about `durationMs`: a copy of the NV21 buffer goes to
     * [onFrame] on the main thread every [FRAME_INTERVAL_MS] at most, until [stopRecording]. The frames stay within
     * [RECORDING_BUDGET_BYTES] and [MAX_RECORDED_FRAMES] (the core refuses more than 64 MiB or 64 frames): a large
     * preview is recorded less often, so that the whole turn is still covered. Nothing is recorded if the camera
     * is not open (the caller sees no frames: the core refuses an empty sequence).
     */
    fun startRecording(durationMs: Long, onFrame: (Frame) -> Unit) {
        worker.post {
            if (camera == null || previewWidth == 0) return@post
            val bufferSize = previewWidth * previewHeight * 3 / 2
            val fitting = minOf(MAX_RECORDED_FRAMES.toLong(), RECORDING_BUDGET_BYTES / bufferSize).coerceAtLeast(1)
            recorder = Recorder(maxOf(FRAME_INTERVAL_MS, durationMs / fitting), fitting, onFrame)
        }
    }

    /** Stops [startRecording]; the preview goes on. */
    fun stopRecording() {
        worker.post { recorder = null }
    }

    /**
     * Every preview frame (worker thread): the brightness for the hints, now and then, and a copy for the head turn
     * being recorded. The buffer goes back to the camera after.
     */
    private fun onPreviewFrame(data: ByteArray?, cam: Camera) {
        if (data == null) return
        val now = SystemClock.elapsedRealtime()
        if (now - lastLumaAt >= LUMA_INTERVAL_MS) {
            lastLumaAt = now
            meanLuma = CaptureHint.meanLuma(data, previewWidth, previewHeight)
            publishHint()
        }
        burst?.let { addToBurst(it, data, now) }
        recorder?.let { r ->
            if (now - r.last >= r.interval && r.recorded < r.most) {
                r.last = now
                r.recorded++
                // Front camera: the sensor's orientation minus the phone's, as for the JPEG.
                val rotation = (info.orientation - deviceDegrees + 360) % 360
                val frame = Frame.nv21(data.copyOf(), previewWidth, previewHeight, rotation, now)
                main.post { r.onFrame(frame) }
            }
        }
        cam.addCallbackBuffer(data)
    }

    /** The hint for what the camera sees now, to the main thread when it changed. */
    private fun publishHint() {
        val next = CaptureHint.of(faces, meanLuma)
        main.post {
            if (next != hint) {
                hint = next
                guide.ready = next == CaptureHint.READY
                onHint(next)
            }
        }
    }

    /** Starts the camera's face detection, if the phone has it (again after each picture: the preview restarted). */
    private fun startFaceDetection(cam: Camera) {
        if (cam.parameters.maxNumDetectedFaces <= 0) return
        try {
            cam.setFaceDetectionListener { detected, _ ->
                faces = detected.map { SeenFace(it.rect.left, it.rect.top, it.rect.right, it.rect.bottom) }
                publishHint()
            }
            cam.startFaceDetection()
        } catch (e: RuntimeException) {
            // Already running, or refused by this camera: the hints go on from the brightness alone.
        }
    }

    /** The preview's height for its width, at the preview's aspect (the screen is portrait: taller than wide). */
    private fun fitPreview(landscapeAspect: Double) {
        view.post {
            val params = view.layoutParams ?: return@post
            if (view.width > 0) {
                params.height = (view.width * landscapeAspect).toInt()
                view.layoutParams = params
            }
        }
    }

    /** Closes the camera (on its thread; the next [open] waits for it). */
    fun close() {
        orientation.disable()
        hint = null
        worker.post {
            recorder = null
            burst = null
            camera?.let {
                it.setPreviewCallbackWithBuffer(null)
                it.setFaceDetectionListener(null)
                it.stopPreview()
                it.release()
            }
            camera = null
        }
    }

    /** Closes the camera and ends its thread: from `onDestroy`. */
    fun release() {
        close()
        thread.quitSafely()
    }

    private fun startPreview() {
        val current = camera ?: return
        try {
            current.setPreviewDisplay(preview.holder)
            repeat(2) { current.addCallbackBuffer(ByteArray(previewWidth * previewHeight * 3 / 2)) }
            current.setPreviewCallbackWithBuffer { data, cam -> onPreviewFrame(data, cam) }
            current.startPreview()
            startFaceDetection(current)
        } catch (e: java.io.IOException) {
            // The surface went away meanwhile: surfaceCreated starts the preview again.
        }
    }

    override fun surfaceCreated(holder: SurfaceHolder) {
        surfaceReady = true
        worker.post { startPreview() }
    }

    override fun surfaceChanged(holder: SurfaceHolder, format: Int, width: Int, height: Int) {}

    /** The preview must stop before the surface is gone: waits (a little) for the camera thread to stop it. */
    override fun surfaceDestroyed(holder: SurfaceHolder) {
        surfaceReady = false
        val stopped = CountDownLatch(1)
        worker.post {
            camera?.stopPreview()
            stopped.countDown()
        }
        stopped.await(SURFACE_WAIT_MS, TimeUnit.MILLISECONDS)
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

        /** Preview frames in a selfie's burst, besides the still. */
        const val BURST_PREVIEW_FRAMES = 3

        /** JPEG quality of a burst's preview frames (the still's is 90 too). */
        const val BURST_JPEG_QUALITY = 90

        /** Longest a burst waits for its preview frames before the still is taken alone. */
        const val BURST_TIMEOUT_MS = 2_000L

        /** How often the preview's brightness is measured for the hints. */
        const val LUMA_INTERVAL_MS = 400L

        /** Longest the screen waits for the camera thread to stop the preview when its surface goes away. */
        const val SURFACE_WAIT_MS = 1_000L
    }
}
