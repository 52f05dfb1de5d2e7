#!/usr/bin/env bash
# Builds the JNI library for arm64 Android phones, libfacecheck_jni.so for aarch64-linux-android (minSdk 23,
# Android 6.0), without the Android NDK (none can be installed here):
# - rustc's own aarch64-linux-android target compiles the Rust code;
# - ring's C and tract's assembly kernels go through Debian's aarch64-linux-gnu-gcc with -ffixed-x18
#   -mno-outline-atomics (x18 is bionic's platform register; outline atomics would need libgcc);
# - Debian's ld.lld links against a sysroot generated from bionic's symbol maps in ../shared/android/bionic-maps:
#   stub libc/libm/libdl/liblog exporting exactly API 23's symbols with bionic's versions, start/end files, and LLVM
#   libunwind built from rustup's rust-src with clang (android/bionic/gen-sysroot.sh, android/bionic/ld-android.sh);
# - LOAD segments aligned to 16 KB, no text relocations; the APK's copy is stripped.
#
#   scripts/build-android-so.sh              the shipped library
#   scripts/build-android-so.sh --testing    with the test-only entry points (feature `testing`), for test-bionic.sh
#
# Outputs (under the cargo target directory; nothing generated is committed):
#   $CARGO_TARGET_DIR/android/arm64-v8a/libfacecheck_jni.so          stripped: what the APK carries
#   $CARGO_TARGET_DIR/android/arm64-v8a/unstripped/libfacecheck_jni.so   with symbols and line tables, for crash reports
#   $CARGO_TARGET_DIR/android/testing/libfacecheck_jni.so            (--testing) stripped, test entry points included,
#                                                                    and its unstripped/ copy
# Then runs scripts/check-android-so.sh on the result. Skips, with a message, when ../shared/android is absent.
# Installs what it needs (Debian packages, the rustup target and rust-src) when missing.
#
# On a machine with the NDK, `cargo ndk -t arm64-v8a -o android/app/build/jniLibs build --release -p facecheck-jni`
# is the usual way instead (android/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"

variant=release
case "${1:-}" in
  "") ;;
  --testing) variant=testing ;;
  *) echo "usage: $0 [--testing]" >&2; exit 2 ;;
esac

if [ ! -f "$repo/../shared/android/bionic-maps/libc.map.txt" ]; then
  echo "skipping the Android library: ../shared/android (bionic's symbol maps) is absent beside the clone"
  exit 0
fi

source android/toolchain.sh
# clang: libunwind and the start files; lld: the linker; llvm: llvm-ar, llvm-readelf, llvm-objdump, llvm-strip;
# the GNU cross compiler and the aarch64 glibc headers (which gcc-aarch64-linux-gnu does not pull) for ring's C.
ensure_debs clang lld llvm gcc-aarch64-linux-gnu libc6-dev-arm64-cross python3
rustup target list --installed | grep -qx aarch64-linux-android || rustup target add aarch64-linux-android
[ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/src/llvm-project/libunwind" ] || rustup component add rust-src

source android/bionic/env.sh
android/bionic/gen-sysroot.sh

features=()
[ "$variant" = testing ] && features=(--features testing)
start=$(date +%s)
cargo build --release -p facecheck-jni --target "$FACECHECK_ANDROID_TARGET" "${features[@]}"
echo "cargo build for $FACECHECK_ANDROID_TARGET ($variant): $(($(date +%s) - start)) s"

built="$CARGO_TARGET_DIR/$FACECHECK_ANDROID_TARGET/release/libfacecheck_jni.so"
out="$CARGO_TARGET_DIR/android/arm64-v8a"
[ "$variant" = testing ] && out="$CARGO_TARGET_DIR/android/testing"
mkdir -p "$out/unstripped"
cp "$built" "$out/unstripped/libfacecheck_jni.so"
# --strip-all keeps the dynamic symbol table (the JNI functions) and drops everything else: symbols, line tables.
llvm-strip --strip-all -o "$out/libfacecheck_jni.so" "$built"
echo "built $out/libfacecheck_jni.so ($(du -h "$out/libfacecheck_jni.so" | cut -f1))"

args=(--stripped)
[ "$variant" = testing ] && args+=(--testing)
scripts/check-android-so.sh "${args[@]}" "$out/libfacecheck_jni.so"
