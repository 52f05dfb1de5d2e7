# Sourced by the scripts that build for Android without the NDK (scripts/build-android-so.sh, check-android-so.sh,
# test-bionic.sh, build-apk.sh). Sets, in the sourcing script's environment only, how cargo builds for
# aarch64-linux-android; the values must be the same in every script, or cargo rebuilds tract for each of them.
#
#   FACECHECK_ANDROID_API      the minimum API level, 23 (Android 6.0): the app's minSdk, the stub libraries' level
#   FACECHECK_ANDROID_SYSROOT  the generated sysroot (android/bionic/gen-sysroot.sh), under the cargo target directory
#
# - rustc's own aarch64-linux-android target compiles the Rust code;
# - the C of build scripts (ring) and tract's assembly go through Debian's aarch64-linux-gnu-gcc, with x18 reserved
#   (bionic's platform register: the shadow call stack on recent Android) and no calls to libgcc's outline atomics;
# - rustc links with ld-style arguments (`-C linker-flavor=ld`) through android/bionic/ld-android.sh, which adds the
#   generated sysroot (crt objects, stub libraries, libunwind.a) and the Android link options to Debian's ld.lld.
# Run android/bionic/gen-sysroot.sh after sourcing this and before cargo.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"
export FACECHECK_ANDROID_API=23
export FACECHECK_ANDROID_TARGET=aarch64-linux-android
export FACECHECK_ANDROID_SYSROOT="$CARGO_TARGET_DIR/android-sysroot/api$FACECHECK_ANDROID_API"
export CC_aarch64_linux_android=aarch64-linux-gnu-gcc
export AR_aarch64_linux_android=aarch64-linux-gnu-ar
export CFLAGS_aarch64_linux_android="-ffixed-x18 -mno-outline-atomics"
# The linker is android/bionic/ld-android.sh, run from a copy that gen-sysroot.sh keeps beside the sysroot: cargo
# fingerprints the linker's path, so a path inside the checkout would rebuild everything in each new clone or worktree.
export CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER="$CARGO_TARGET_DIR/android-sysroot/ld-android.sh"
export CARGO_TARGET_AARCH64_LINUX_ANDROID_RUSTFLAGS="-C linker-flavor=ld"
