package com.facecheck.app

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.RectF
import android.view.View

/**
 * The oval the driver puts their face in, drawn over the camera preview: white while the capture hint asks for
 * something, green when it says the selfie can be taken ([ready]). It is a guide only; the core judges the selfie.
 * The oval is about as wide as the face the core wants (half the preview's width) and 1.3 times as tall.
 */
class FaceGuide(context: Context) : View(context) {
    private val paint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        style = Paint.Style.STROKE
        strokeWidth = 4 * context.resources.displayMetrics.density
    }
    private val oval = RectF()

    /** Whether the camera sees a face placed and lit well enough. */
    var ready = false
        set(value) {
            if (field != value) {
                field = value
                invalidate()
            }
        }

    init {
        importantForAccessibility = IMPORTANT_FOR_ACCESSIBILITY_NO // the hint text says it for TalkBack
    }

    override fun onDraw(canvas: Canvas) {
        val w = width * OVAL_WIDTH
        val h = w * OVAL_ASPECT
        oval.set((width - w) / 2, (height - h) / 2, (width + w) / 2, (height + h) / 2)
        paint.color = if (ready) READY_COLOR else Color.WHITE
        canvas.drawOval(oval, paint)
    }

    companion object {
        /** The oval's width, as a share of the preview's. */
        const val OVAL_WIDTH = 0.5f

        /** The oval's height over its width. */
        const val OVAL_ASPECT = 1.3f

        /** The ready oval's green (the hint text under the preview says the same in words). */
        val READY_COLOR = Color.rgb(0, 200, 83)
    }
}
