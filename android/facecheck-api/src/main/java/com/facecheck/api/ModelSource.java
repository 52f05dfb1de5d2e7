package com.facecheck.api;

import java.io.IOException;

/** Where the model files come from: the app's assets on Android, a folder on the host. */
public interface ModelSource {
    /** The bytes of the model file called {@code fileName} (a name from {@link Facecheck#modelFileNames()}). */
    byte[] read(String fileName) throws IOException;
}
