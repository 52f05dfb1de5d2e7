package com.facecheck.flow

/**
 * NV21 buffers (Android's preview format: `width * height` luma bytes, then the chroma at half resolution in each
 * direction as interleaved V, U pairs) turned upright, for a preview frame that is encoded as a JPEG without EXIF
 * (`YuvImage.compressToJpeg`). The core does the same turn itself for the frames of a head turn
 * (`pipeline/frame.rs`); this one is for the JPEGs of a passive check-in's burst.
 */
object Nv21 {
    /**
     * `data` (`width x height`, both even) turned `degrees` clockwise (0, 90, 180 or 270): a new buffer, of
     * `height x width` for a quarter turn.
     */
    fun rotate(data: ByteArray, width: Int, height: Int, degrees: Int): ByteArray {
        require(width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0) { "NV21 sides must be even: $width x $height" }
        require(data.size == width * height * 3 / 2) { "an NV21 buffer of $width x $height is ${width * height * 3 / 2} bytes" }
        val quarter = degrees == 90 || degrees == 270
        require(quarter || degrees == 0 || degrees == 180) { "the rotation is 0, 90, 180 or 270 degrees" }
        if (degrees == 0) return data.copyOf()
        val (outW, outH) = if (quarter) height to width else width to height
        val out = ByteArray(data.size)
        // Where the stored pixel (x, y) of a plane of w x h lands, once turned.
        fun target(x: Int, y: Int, w: Int, h: Int): Int = when (degrees) {
            90 -> x * h + (h - 1 - y)
            180 -> (h - 1 - y) * w + (w - 1 - x)
            else -> (w - 1 - x) * h + y
        }
        for (y in 0 until height) {
            for (x in 0 until width) {
                out[target(x, y, width, height)] = data[y * width + x]
            }
        }
        // The chroma plane: (w/2) x (h/2) pairs of bytes, moved as pairs.
        val (cw, ch) = width / 2 to height / 2
        val base = width * height
        for (y in 0 until ch) {
            for (x in 0 until cw) {
                val from = base + 2 * (y * cw + x)
                val to = base + 2 * target(x, y, cw, ch)
                out[to] = data[from]
                out[to + 1] = data[from + 1]
            }
        }
        check(out.size == outW * outH * 3 / 2)
        return out
    }
}
