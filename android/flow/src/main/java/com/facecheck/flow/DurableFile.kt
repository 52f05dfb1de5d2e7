package com.facecheck.flow

import java.io.File
import java.io.FileOutputStream
import java.io.IOException

/**
 * A small file replaced atomically and durably: the new content goes to a temporary file in the same folder, is
 * flushed to the disk (`fsync`), then renamed over the old one. A crash at any point leaves the old content or the
 * new, never a mix; what [write] returned from is on the disk. (java.io only: `java.nio.file` is not on Android 23.)
 */
class DurableFile(val file: File) {
    /** The content, or null when there is none. Temporary files a crash left behind are ignored. */
    fun read(): String? = if (file.isFile) file.readText(Charsets.UTF_8) else null

    @Throws(IOException::class)
    fun write(text: String) {
        val dir = file.absoluteFile.parentFile
        if (!dir.isDirectory && !dir.mkdirs()) throw IOException("cannot create $dir")
        val temp = File(dir, ".${file.name}.tmp")
        FileOutputStream(temp).use { out ->
            out.write(text.toByteArray(Charsets.UTF_8))
            out.flush()
            out.fd.sync()
        }
        if (!temp.renameTo(file)) {
            temp.delete()
            throw IOException("cannot replace ${file.name}")
        }
    }

    fun delete() {
        if (file.exists() && !file.delete()) throw IOException("cannot delete ${file.name}")
    }
}
