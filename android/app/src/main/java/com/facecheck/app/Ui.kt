package com.facecheck.app

import android.app.Activity
import android.app.AlertDialog
import android.graphics.Typeface
import android.os.Handler
import android.os.Looper
import android.text.Html
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import java.text.DateFormat
import java.util.Date
import java.util.concurrent.Executors

/** Screens are built in code from these few helpers: platform widgets only (API 23, no AndroidX). */
fun Activity.column(vararg children: View): LinearLayout {
    val layout = LinearLayout(this)
    layout.orientation = LinearLayout.VERTICAL
    val pad = dp(16)
    layout.setPadding(pad, pad, pad, pad)
    for (child in children) layout.addView(child)
    return layout
}

fun Activity.scrolling(content: View): ScrollView {
    val scroll = ScrollView(this)
    scroll.addView(content)
    return scroll
}

/**
 * Sets the screen's content and keeps it clear of the system bars and the keyboard. With targetSdk 35 Android 15
 * draws every app edge to edge: the window extends under the status and navigation bars and no longer shrinks for
 * the keyboard. The insets that reach the content (what the framework's action bar has not taken) become its
 * padding, with the API-20 calls that API 23 has (`getSystemWindowInset*`, which include the keyboard's height).
 * Before Android 15 the window is already laid out between the bars, and these insets are zero, or the keyboard's
 * under `adjustResize`.
 */
@Suppress("DEPRECATION") // WindowInsets.getSystemWindowInset*/consumeSystemWindowInsets: API 20, deprecated in 30
fun Activity.setScreen(root: ViewGroup) {
    root.clipToPadding = false
    root.setOnApplyWindowInsetsListener { view, insets ->
        view.setPadding(
            insets.systemWindowInsetLeft,
            insets.systemWindowInsetTop,
            insets.systemWindowInsetRight,
            insets.systemWindowInsetBottom
        )
        insets.consumeSystemWindowInsets()
    }
    setContentView(root)
    root.requestApplyInsets()
}

fun Activity.text(value: CharSequence, sizeSp: Float = 16f, bold: Boolean = false): TextView {
    val view = TextView(this)
    view.text = value
    view.textSize = sizeSp
    if (bold) view.setTypeface(view.typeface, Typeface.BOLD)
    view.setPadding(0, dp(6), 0, dp(6))
    return view
}

/** A string resource that holds simple HTML (bold headings in the consent notice). */
@Suppress("DEPRECATION") // Html.fromHtml(String, Int) is API 24
fun Activity.html(resId: Int): CharSequence = Html.fromHtml(getString(resId).trim().replace("\n\n", "<br><br>"))

fun Activity.button(label: CharSequence, onClick: () -> Unit): Button {
    val view = Button(this)
    view.text = label
    view.setOnClickListener { onClick() }
    return view
}

fun Activity.field(hint: Int, value: String?): EditText {
    val view = EditText(this)
    view.setHint(hint)
    view.setSingleLine(true)
    if (value != null) view.setText(value)
    return view
}

fun Activity.dp(value: Int): Int = (value * resources.displayMetrics.density).toInt()

fun View.matchWidth(heightPx: Int = ViewGroup.LayoutParams.WRAP_CONTENT): View {
    layoutParams = LinearLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, heightPx)
    return this
}

fun Activity.alert(message: CharSequence, title: CharSequence? = null, then: (() -> Unit)? = null) {
    val builder = AlertDialog.Builder(this).setMessage(message).setPositiveButton(R.string.ok) { _, _ -> then?.invoke() }
    if (title != null) builder.setTitle(title)
    builder.setCancelable(false).show()
}

/** A date and time in the phone's locale, from unix seconds. */
fun formatTime(unixSeconds: Long): String =
    DateFormat.getDateTimeInstance(DateFormat.MEDIUM, DateFormat.SHORT).format(Date(unixSeconds * 1000))

fun formatDate(unixSeconds: Long): String = DateFormat.getDateInstance(DateFormat.LONG).format(Date(unixSeconds * 1000))

/**
 * Background work: one worker thread for the engine and the network, results back on the main thread (dropped if
 * the activity has gone).
 */
object Background {
    private val worker = Executors.newSingleThreadExecutor()
    private val main = Handler(Looper.getMainLooper())

    private fun alive(activity: Activity) = !activity.isFinishing && !activity.isDestroyed

    /**
     * Runs [task] on the worker thread. Whatever it throws reaches [onError], errors as well as exceptions: an
     * `UnsatisfiedLinkError` (the native library does not load on this phone) or an `OutOfMemoryError` must become a
     * message ([explain]), not kill the process and the worker.
     */
    fun <T> run(activity: Activity, task: () -> T, onError: (Throwable) -> Unit, onDone: (T) -> Unit) {
        worker.execute {
            try {
                val value = task()
                main.post { if (alive(activity)) onDone(value) }
            } catch (e: Throwable) {
                main.post { if (alive(activity)) onError(e) }
            }
        }
    }
}
