package com.facecheck.app

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import com.facecheck.api.Facecheck
import com.facecheck.api.ModelSource
import java.io.File
import java.io.FileOutputStream
import java.security.GeneralSecurityException
import java.security.KeyStore
import java.security.SecureRandom
import java.util.Arrays
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The one engine of the app, opened on first use (the models take a few seconds to load and optimise) and kept
 * for the life of the process. Call only from [Background].
 */
object Engine {
    private var engine: Facecheck? = null

    @Synchronized
    fun get(context: Context): Facecheck {
        engine?.let { return it }
        Facecheck.loadLibrary()
        val app = context.applicationContext
        val models = ModelSource { name -> Facecheck.readAll(app.assets.open(name)) }
        val kek = VaultKey.get(app)
        try {
            val opened = Facecheck.open(models, vaultFile(app), kek)
            engine = opened
            return opened
        } finally {
            Arrays.fill(kek, 0.toByte())
        }
    }

    /** Closes the engine, for example before deleting a vault that cannot be read. */
    @Synchronized
    fun close() {
        engine?.close()
        engine = null
    }

    /** The vault lives in no-backup private storage: it never leaves the phone, not even in a backup. */
    fun vaultFile(context: Context): File = File(context.noBackupFilesDir, "facecheck.vault")

    /** Deletes a vault that cannot be read (damaged, or its key was lost), after the driver confirmed it. */
    @Synchronized
    fun deleteUnreadableVault(context: Context) {
        close()
        vaultFile(context).delete()
        VaultKey.forget(context)
    }
}

/** The Keystore can no longer unwrap the vault's key: the vault is unreadable for good (see [VaultKey.get]). */
class VaultKeyLost(cause: Throwable) : Exception("the vault key cannot be unwrapped", cause)

/**
 * The vault's 32-byte key-encryption key: random, stored only wrapped (AES-GCM) by a non-exportable key of the
 * Android Keystore. Uninstalling the app deletes both, and with them any way to read the vault.
 */
object VaultKey {
    private const val ALIAS = "facecheck-vault-kek"
    private const val FILE = "vault-key.wrapped"
    private const val TAG_BITS = 128

    fun get(context: Context): ByteArray {
        val wrapped = File(context.noBackupFilesDir, FILE)
        val keystoreKey = keystoreKey()
        if (wrapped.exists()) {
            val blob = Facecheck.readAll(wrapped.inputStream())
            try {
                val cipher = Cipher.getInstance("AES/GCM/NoPadding")
                cipher.init(Cipher.DECRYPT_MODE, keystoreKey, GCMParameterSpec(TAG_BITS, blob, 0, 12))
                return cipher.doFinal(blob, 12, blob.size - 12)
            } catch (e: GeneralSecurityException) {
                // The Keystore key is gone or invalidated (a lock-screen reset, a Keystore wipe, a restore onto
                // another phone): the vault can never be opened again. The driver deletes it and enrolls again.
                throw VaultKeyLost(e)
            }
        }
        val kek = ByteArray(32)
        SecureRandom().nextBytes(kek)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, keystoreKey)
        val blob = cipher.iv + cipher.doFinal(kek)
        val temp = File(context.noBackupFilesDir, "$FILE.tmp")
        FileOutputStream(temp).use { out ->
            out.write(blob)
            out.fd.sync()
        }
        if (!temp.renameTo(wrapped)) throw java.io.IOException("cannot store the vault key")
        return kek
    }

    fun forget(context: Context) {
        File(context.noBackupFilesDir, FILE).delete()
        val store = KeyStore.getInstance("AndroidKeyStore")
        store.load(null)
        if (store.containsAlias(ALIAS)) store.deleteEntry(ALIAS)
    }

    private fun keystoreKey(): SecretKey {
        val store = KeyStore.getInstance("AndroidKeyStore")
        store.load(null)
        (store.getKey(ALIAS, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build()
        )
        return generator.generateKey()
    }
}

/**
 * What the app remembers outside the vault and the flow's files: the consent (when, and to which notice version).
 * No biometric data. (Who the driver is and which fleet server to use come with the enrollment code: see
 * `com.facecheck.flow.Profile`.)
 */
class Settings(context: Context) {
    private val prefs = context.getSharedPreferences("facecheck", Context.MODE_PRIVATE)

    var consentAt: Long
        get() = prefs.getLong("consent_at", 0)
        set(value) = check(prefs.edit().putLong("consent_at", value).commit())
    var consentVersion: String?
        get() = prefs.getString("consent_version", null)
        set(value) = check(prefs.edit().putString("consent_version", value).commit())
    /** The last fleet server address typed at enrollment (a convenience for typing the next code). */
    var lastServer: String?
        get() = prefs.getString("last_server", null)
        set(value) = check(prefs.edit().putString("last_server", value).commit())
}
