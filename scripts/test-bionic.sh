#!/usr/bin/env bash
# The native code on Android's C library, bionic, under user-mode qemu with the dynamic linker and system libraries of
# two real Android userlands (../shared/android/userland-6.0, API 23, the minimum; userland-9, API 28):
#
# 1. the stub generator against reality: every symbol the API-23 stubs export exists in Android 6.0's libraries, and
#    in Android 9's with the same symbol version;
# 2. the JNI bridge: android/bionic/jni-driver.c (an Android executable linked against the same generated sysroot)
#    dlopen()s libfacecheck_jni.so with bionic's linker64 and drives every JNI entry point through a hand-built
#    JNIEnv: the shipped (stripped) library for loading and a typed exception, the library with the test-only
#    entry points (feature `testing`) for open, screen, enroll, status, devicePublicKey, registrationStatement,
#    check-in (match, no match), erase, close and two panics that must come back as exceptions. On both userlands.
# 3. the core's test suite (`cargo test -p facecheck`: golden outputs against onnxruntime, cross-architecture
#    agreement with x86_64, end-to-end check-ins, decoding) built for aarch64-linux-android and run on Android 6.0's
#    linker and libraries, on a Cortex-A53 (NEON, no dot product, no fp16 arithmetic: the oldest arm64 phones).
#
# This replaces the former glibc build (aarch64-unknown-linux-gnu): tract is compiled for one ARM target only, the
# one the phones run. Installs what it needs; skips, with a message, when ../shared/android is absent. Prints the time
# each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"
shared="$repo/../shared/android"
userlands=(userland-6.0 userland-9)

for dir in bionic-maps "${userlands[@]}"; do
  if [ ! -d "$shared/$dir" ]; then
    echo "skipping the bionic tests: ../shared/android/$dir is absent beside the clone"
    exit 0
  fi
done
shared="$(cd "$shared" && pwd)"

source android/toolchain.sh
ensure_debs qemu-user clang lld llvm python3 # Debian's qemu-user ships /usr/bin/qemu-aarch64
seconds() { date +%s; }

# The two builds of the library (each also statically checked by scripts/check-android-so.sh).
scripts/build-android-so.sh
scripts/build-android-so.sh --testing
source android/bionic/env.sh
shipped="$CARGO_TARGET_DIR/android/arm64-v8a/libfacecheck_jni.so"
testing="$CARGO_TARGET_DIR/android/testing/libfacecheck_jni.so"
failures=0

echo "== 1. the API-$FACECHECK_ANDROID_API stubs against Android's own libraries"
python3 android/bionic/check_so.py --compare-stubs "$FACECHECK_ANDROID_SYSROOT/symbols" "$shared/userland-6.0" \
  unversioned || failures=$((failures + 1))
python3 android/bionic/check_so.py --compare-stubs "$FACECHECK_ANDROID_SYSROOT/symbols" "$shared/userland-9" \
  versioned || failures=$((failures + 1))

echo "== 2. the JNI bridge on bionic"
build="$CARGO_TARGET_DIR/android/bionic-tests"
rm -rf "$build"
mkdir -p "$build/work"
clang --target="$FACECHECK_ANDROID_TARGET$FACECHECK_ANDROID_API" -O1 -fPIE -ffreestanding -nostdlibinc -ffixed-x18 \
  -mno-outline-atomics -Wall -Wextra -Wno-unused-parameter -Werror -c android/bionic/jni-driver.c -o "$build/jni-driver.o"
"$CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER" -pie -o "$build/jni-driver" "$build/jni-driver.o" -lc -ldl
# A picture without a face (a mid-grey PNG), for the NoFace path: the fixtures have none that decodes.
python3 - "$build/work/blank.png" <<'EOF'
import struct, sys, zlib
width, height = 480, 640
rows = b"".join(b"\0" + bytes([128, 128, 128]) * width for _ in range(height))
chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
for userland in "${userlands[@]}"; do
  root="$shared/$userland"
  for mode in smoke full; do
    lib=$shipped
    [ "$mode" = full ] && lib=$testing
    echo "-- $userland: jni-driver $mode ($lib)"
    start=$(seconds)
    # The driver's PT_INTERP is /system/bin/linker64: qemu -L finds it, and the system libraries, in the userland.
    # Android 6's linker warns that it does not know DT_FLAGS_1's PIE bit (set by ld.lld): harmless.
    # ANDROID_DATA/ANDROID_ROOT: where bionic looks for its time zone data (absent here; it then uses UTC quietly).
    if RUST_BACKTRACE=0 ANDROID_DATA=/data ANDROID_ROOT=/system qemu-aarch64 -cpu cortex-a53 -L "$root" "$build/jni-driver" "$mode" "$lib" "$repo" \
      "$build/work" 2> >(grep -v 'unsupported flags DT_FLAGS_1' >&2) | sed "s|^\([0-9]* passed, [0-9]* failed\)$|bionic JNI driver on $userland ($mode): \1|"; then
      :
    else
      failures=$((failures + 1))
    fi
    echo "jni-driver $mode on $userland: $(($(seconds) - start)) s"
  done
done

echo "== 3. the core's tests on bionic (Android 6.0's linker and libraries, Cortex-A53)"
# With facecheck-jni in the same command, cargo resolves the dependencies' features as for the library built above
# (android_logger turns on `log`'s std feature): tract is compiled once for this target, not a second time for the
# tests. The bridge's own unit tests (the error-to-exception mapping) then run on bionic too.
packages=(-p facecheck -p facecheck-jni)
start=$(seconds)
cargo test --release "${packages[@]}" --target "$FACECHECK_ANDROID_TARGET" --no-run
echo "aarch64-linux-android build of the core's tests: $(($(seconds) - start)) s"
# cargo runs each test binary through the runner, in the crate's directory. std's temp_dir() is /data/local/tmp on
# Android: TMPDIR points it at the host's. FACECHECK_EXPECT_CPU makes the kernel test check that tract saw an A53.
# The vault's lock tests run here too: the vault locks with flock(2), which bionic has (std's File::try_lock does not).
# Of the check-in policy tests (`checkin_*`, 6 minutes of the 11 under qemu) only the end-to-end one runs here: the
# others add no arithmetic that the golden, cross-architecture and engine tests do not run, and the JNI driver above
# already enrolls, checks in and erases on both userlands; the host runs them all (scripts/test.sh). The same holds
# for the active check's sequence tests (`active_*` in tests/active.rs, among them the NUAA print captures against
# all six challenges, minutes on the host and far too long here): they run the stages the golden and
# cross-architecture tests already check on this CPU; the bounds tests of its entry point (`sequence_bounds_*`:
# counts, sizes, NV21 lengths, times, garbage; small frames) and the NV21 conversion's unit tests do run here.
e2e=checkin_enroll_match_no_match_replay_lockout_erase
start=$(seconds)
mkdir -p "$build/tmp"
core_tests() {
  CARGO_TARGET_AARCH64_LINUX_ANDROID_RUNNER="qemu-aarch64 -cpu cortex-a53 -L $shared/userland-6.0" \
    TMPDIR="$build/tmp" ANDROID_DATA=/data ANDROID_ROOT=/system FACECHECK_EXPECT_CPU=cortex-a53 RUST_BACKTRACE=0 \
    cargo test --release "${packages[@]}" --target "$FACECHECK_ANDROID_TARGET" --no-fail-fast -- --show-output "$@" \
    2> >(grep -v 'unsupported flags DT_FLAGS_1' >&2)
}
core_tests --skip checkin_ --skip active_ --skip qr::tests::the_costliest_picture || failures=$((failures + 1))
core_tests --exact "$e2e" || failures=$((failures + 1))
echo "facecheck tests on bionic under qemu-aarch64 (Cortex-A53, Android 6.0): $(($(seconds) - start)) s"

if [ "$failures" -ne 0 ]; then
  echo "bionic tests: $failures part(s) failed" >&2
  exit 1
fi
echo "bionic tests passed"
