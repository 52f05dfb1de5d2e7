#!/usr/bin/env bash
# Builds the signed Facecheck APK without Gradle, from Debian packages only: aapt, javac, kotlinc, dx, zipalign,
# apksigner, and android.jar (API 23). See android/README.md for the steps and for the Gradle build Android Studio
# users keep.
#
#   scripts/build-apk.sh [OUT.apk]          default: android/build/facecheck.apk
#
# The native library, lib/arm64-v8a/libfacecheck_jni.so, is built here without the NDK by scripts/build-android-so.sh
# (aarch64-linux-android, API 23, statically checked, stripped); $FACECHECK_ANDROID_LIB overrides it with a library
# built elsewhere (with the NDK: `cargo ndk -t arm64-v8a -o android/app/build/jniLibs build --release -p
# facecheck-jni`, which is also picked up from android/app/build/jniLibs). Without ../shared/android (the bionic
# symbol maps) and without such a library the APK is complete, but cannot open the engine (the app then says "this
# phone is not supported"). minSdk 23, targetSdk 35, compiled against android.jar 23 (API-23 calls only).
#
# Signing (then `apksigner verify`):
# - by default with the repository's DEBUG key, android/signing/debug.p12 (public, like Android's well-known debug
#   key: every build, here or in CI or Android Studio, has the same signer, so an update installs over the previous
#   one and keeps the app's Keystore key and vault);
# - with a release key when FACECHECK_RELEASE_KEYSTORE names a keystore (PKCS12 or JKS): its password in
#   FACECHECK_RELEASE_KEYSTORE_PASS, the key's alias in FACECHECK_RELEASE_KEY_ALIAS (optional when the keystore holds
#   one key) and the key's password in FACECHECK_RELEASE_KEY_PASS (optional: the keystore's). The passwords reach
#   apksigner by environment name (`env:`), never on a command line.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source android/toolchain.sh

out_apk="${1:-$repo/android/build/facecheck.apk}"
build="$repo/android/build/apk"
app="$repo/android/app/src/main"
api="$repo/android/facecheck-api/src/main/java"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"
target_dir=$CARGO_TARGET_DIR

# Tools: javac/keytool come with the JDK, the rest with Debian packages; android.jar and dx from bullseye.
command -v javac >/dev/null || ensure_debs openjdk-17-jdk-headless
ensure_debs aapt zipalign apksigner kotlin llvm
ensure_android_sdk
kotlin_stdlib=/usr/share/java/kotlin-stdlib.jar

# 0. The native library: built for aarch64-linux-android without the NDK (skipped when ../shared is absent).
native_lib=""
if [ -n "${FACECHECK_ANDROID_LIB:-}" ]; then
  [ -f "$FACECHECK_ANDROID_LIB" ] || { echo "error: FACECHECK_ANDROID_LIB=$FACECHECK_ANDROID_LIB: no such file" >&2; exit 1; }
  native_lib=$FACECHECK_ANDROID_LIB
else
  scripts/build-android-so.sh
  for candidate in "$target_dir/android/arm64-v8a/libfacecheck_jni.so" \
    "$repo/android/app/build/jniLibs/arm64-v8a/libfacecheck_jni.so"; do
    if [ -f "$candidate" ]; then
      native_lib=$candidate
      break
    fi
  done
fi

rm -rf "$build"
mkdir -p "$build"/{gen,classes,dex,stage/assets,stage/lib/arm64-v8a} "$(dirname "$out_apk")"

# 1. The manifest with the package name (Gradle keeps it in app/build.gradle), then R.java.
sed 's|<manifest |<manifest package="com.facecheck.app" |' "$app/AndroidManifest.xml" >"$build/AndroidManifest.xml"
# targetSdk 35 (Android 15: edge to edge, see android/README.md); android.jar 23 is what the code compiles against.
aapt_flags=(--min-sdk-version 23 --target-sdk-version 35 --version-code 1 --version-name 0.1.0
  -M "$build/AndroidManifest.xml" -S "$app/res" -I "$ANDROID_JAR")
aapt package -f -m "${aapt_flags[@]}" -J "$build/gen"

# 2. Java (R and the plain-JVM wrapper, Java 8 bytecode for dx), then the Kotlin app against them.
mapfile -t java_sources < <(find "$build/gen" "$api" -name '*.java' | sort)
javac -nowarn -Xlint:-options -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -encoding UTF-8 \
  -d "$build/classes" "${java_sources[@]}"
mapfile -t kotlin_sources < <(find "$app/java" "$repo/android/flow/src/main/java" -name '*.kt' | sort)
kotlinc -no-jdk -no-reflect -jvm-target 1.8 -nowarn -cp "$ANDROID_JAR:$build/classes" -d "$build/classes" \
  "${kotlin_sources[@]}" 2> >(grep -v -e '^OpenJDK 64-Bit Server VM warning' >&2)

# 3. Dalvik bytecode: the app, the wrapper and the Kotlin standard library in one classes.dex.
java -Xmx1g -cp "$DX_JAR" com.android.dx.command.Main --dex --min-sdk-version=23 \
  --output="$build/dex/classes.dex" "$build/classes" "$kotlin_stdlib"

# 4. Assets (models stored uncompressed: the app reads them whole, without inflating), the third-party notices of
#    what the APK ships (every crate in the library, kotlin-stdlib, the models; shown under "Open-source licences"),
#    and the native library.
cp models/*.onnx models/manifest.json "$build/stage/assets/"
python3 scripts/third-party-notices.py "$build/stage/assets/THIRD_PARTY_NOTICES.txt"
if [ -n "$native_lib" ]; then
  # ELF e_machine (offset 18, little-endian) must be 183, EM_AARCH64.
  [ "$(od -An -tu2 -j18 -N2 "$native_lib" | tr -d ' ')" = 183 ] || { echo "error: $native_lib is not arm64" >&2; exit 1; }
  # Stripped (build-android-so.sh's output already is; a library from elsewhere may carry symbols and line tables).
  llvm-strip --strip-all -o "$build/stage/lib/arm64-v8a/libfacecheck_jni.so" "$native_lib"
  echo "native library: $native_lib"
else
  echo "note: no arm64-v8a native library (../shared/android is absent, and FACECHECK_ANDROID_LIB is not set);" \
    "APK built without it"
fi

# 5. Package, add classes.dex and the library at the archive root, align, sign, verify.
aapt package -f "${aapt_flags[@]}" -0 onnx -A "$build/stage/assets" -F "$build/unsigned.apk"
cp "$build/dex/classes.dex" "$build/stage/"
(
  cd "$build/stage"
  aapt add "$build/unsigned.apk" classes.dex >/dev/null
  # The library is stored compressed and the manifest leaves extractNativeLibs at its default (true): the installer
  # unpacks it into the app's lib directory. (A stored library loaded from the APK would have to sit on a 16 KB
  # boundary in the zip, which Debian's zipalign cannot do: its -p aligns to 4 KB. The ELF segments themselves are
  # 16 KB aligned.)
  if [ -n "$native_lib" ]; then aapt add "$build/unsigned.apk" lib/arm64-v8a/libfacecheck_jni.so >/dev/null; fi
)
zipalign -f -p 4 "$build/unsigned.apk" "$build/aligned.apk"
if [ -n "${FACECHECK_RELEASE_KEYSTORE:-}" ]; then
  [ -f "$FACECHECK_RELEASE_KEYSTORE" ] || { echo "error: FACECHECK_RELEASE_KEYSTORE: no such file" >&2; exit 1; }
  [ -n "${FACECHECK_RELEASE_KEYSTORE_PASS:-}" ] || { echo "error: FACECHECK_RELEASE_KEYSTORE_PASS is not set" >&2; exit 1; }
  signing=(--ks "$FACECHECK_RELEASE_KEYSTORE" --ks-pass env:FACECHECK_RELEASE_KEYSTORE_PASS)
  if [ -n "${FACECHECK_RELEASE_KEY_ALIAS:-}" ]; then signing+=(--ks-key-alias "$FACECHECK_RELEASE_KEY_ALIAS"); fi
  if [ -n "${FACECHECK_RELEASE_KEY_PASS:-}" ]; then signing+=(--key-pass env:FACECHECK_RELEASE_KEY_PASS); fi
  echo "signing with the release key in $FACECHECK_RELEASE_KEYSTORE"
else
  # The public debug key (android/signing/README.md): fine for testing, never for a published app.
  signing=(--ks "$repo/android/signing/debug.p12" --ks-pass pass:android --ks-key-alias facecheck-debug
    --key-pass pass:android)
  echo "signing with the repository's public DEBUG key (android/signing/debug.p12)"
fi
apksigner sign "${signing[@]}" --min-sdk-version 23 --out "$out_apk" "$build/aligned.apk"
rm -f "$out_apk.idsig"

echo "built $out_apk ($(du -h "$out_apk" | cut -f1))"
apksigner verify --verbose --min-sdk-version 23 "$out_apk"
if [ -n "$native_lib" ]; then
  aapt list -v "$out_apk" | grep -E ' lib/arm64-v8a/libfacecheck_jni\.so$' ||
    { echo "error: lib/arm64-v8a/libfacecheck_jni.so is missing from $out_apk" >&2; exit 1; }
fi
aapt list "$out_apk" | grep -qx 'assets/THIRD_PARTY_NOTICES.txt' ||
  { echo "error: the third-party notices are missing from $out_apk" >&2; exit 1; }
aapt dump badging "$out_apk" | grep -E '^(package|sdkVersion|targetSdkVersion|native-code):'
