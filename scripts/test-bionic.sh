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
python3 - "$build/blank.png" <<'EOF'
import struct, sys, zlib
width, height = 480, 640
rows = b"".join(b"\0" + bytes([128, 128, 128]) * width for _ in range(height))
chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
# One userland per core: each driver is one thread (the check-ins under qemu are most of its two minutes). Each
# writes to its own log, printed whole when both are done.
drive() {
  local userland=$1 root="$shared/$1" mode lib start
  for mode in smoke full; do
    lib=$shipped
    [ "$mode" = full ] && lib=$testing
    echo "-- $userland: jni-driver $mode ($lib)"
    start=$(seconds)
    # The driver's PT_INTERP is /system/bin/linker64: qemu -L finds it, and the system libraries, in the userland.
    # Android 6's linker warns that it does not know DT_FLAGS_1's PIE bit (set by ld.lld): harmless.
    # ANDROID_DATA/ANDROID_ROOT: where bionic looks for its time zone data (absent here; it then uses UTC quietly).
    RUST_BACKTRACE=0 ANDROID_DATA=/data ANDROID_ROOT=/system qemu-aarch64 -cpu cortex-a53 -L "$root" \
      "$build/jni-driver" "$mode" "$lib" "$repo" "$build/work/$userland" 2>&1 \
      | grep -v 'unsupported flags DT_FLAGS_1' \
      | sed "s|^\([0-9]* passed, [0-9]* failed\)$|bionic JNI driver on $userland ($mode): \1|" || return 1
    echo "jni-driver $mode on $userland: $(($(seconds) - start)) s"
  done
}
pids=()
for userland in "${userlands[@]}"; do
  mkdir -p "$build/work/$userland"
  cp "$build/blank.png" "$build/work/$userland/blank.png"
  (set -o pipefail; drive "$userland") > "$build/$userland.log" 2>&1 &
  pids+=($!)
done
for i in "${!userlands[@]}"; do
  wait "${pids[$i]}" || failures=$((failures + 1))
  cat "$build/${userlands[$i]}.log"
done

echo "== 3. the core's tests on bionic (Android 6.0's linker and libraries, Cortex-A53)"
# With facecheck-jni in the same command, cargo resolves the dependencies' features as for the library built above
# (android_logger turns on `log`'s std feature): tract is compiled once for this target, not a second time for the
# tests. The bridge's own unit tests (the error-to-exception mapping) then run on bionic too.
packages=(-p facecheck -p facecheck-jni)
start=$(seconds)
cargo test --release "${packages[@]}" --target "$FACECHECK_ANDROID_TARGET" --no-run 2>&1 | tee "$build/no-run.log"
checkin_tests=$(sed -n 's|^ *Executable tests/checkin.rs (\(.*\))$|\1|p' "$build/no-run.log")
[ -x "$checkin_tests" ] || { echo "no tests/checkin.rs binary in cargo's output" >&2; exit 1; }
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
# counts, sizes, NV21 lengths, times, garbage; small frames) and the NV21 conversion's unit tests do run here. Nor
# do two more that only repeat, on more pictures, arithmetic checked here already: the liveness decision under
# picture edits (`*_under_every_edit`, 3.5 minutes here; the edits are the host's image code, the models' outputs
# on this CPU are the golden and cross-architecture tests') and the engine's same/different-person decisions on
# fixtures (`same_person_matches_and_different_people_do_not`, 2 minutes; `arch_tests::distances_and_decisions_are_
# those_of_x86_64` checks the same decisions against the x86_64 reference), nor the two-thread screening's
# equivalence with the one-thread stages on seven fixtures (`screening_and_embedding_on_two_threads_`: the end-to-end
# test below checks in through the two-thread path here), nor the engine loaded on threads against on one thread
# (`loading_on_threads_and_on_one_thread_`: every test here loads it on threads). The rewritten graphs' tests
# (`model::tests`) do run here: they compare tract's outputs to the bit on this CPU's kernels.
e2e=checkin_enroll_match_no_match_replay_lockout_erase
start=$(seconds)
mkdir -p "$build/tmp"
qemu_a53() {
  TMPDIR="$build/tmp" ANDROID_DATA=/data ANDROID_ROOT=/system FACECHECK_EXPECT_CPU=cortex-a53 RUST_BACKTRACE=0 \
    qemu-aarch64 -cpu cortex-a53 -L "$shared/userland-6.0" "$@" 2> >(grep -v 'unsupported flags DT_FLAGS_1' >&2)
}
core_tests() {
  CARGO_TARGET_AARCH64_LINUX_ANDROID_RUNNER="qemu-aarch64 -cpu cortex-a53 -L $shared/userland-6.0" \
    TMPDIR="$build/tmp" ANDROID_DATA=/data ANDROID_ROOT=/system FACECHECK_EXPECT_CPU=cortex-a53 RUST_BACKTRACE=0 \
    cargo test --release "${packages[@]}" --target "$FACECHECK_ANDROID_TARGET" --no-fail-fast -- --show-output "$@" \
    2> >(grep -v 'unsupported flags DT_FLAGS_1' >&2)
}
# The end-to-end test is one thread for two minutes: its binary runs beside the others (not through a second cargo,
# which would wait for the first's lock), in its crate's folder as cargo would run it; its output follows theirs.
(cd crates/facecheck && qemu_a53 "$checkin_tests" --exact "$e2e" --show-output) > "$build/e2e.log" 2>&1 &
e2e_pid=$!
core_tests --skip checkin_ --skip active_ --skip qr::tests::the_costliest_picture --skip _under_every_edit \
  --skip same_person_matches_and_different_people_do_not --skip screening_and_embedding_on_two_threads_ \
  --skip loading_on_threads_and_on_one_thread_ || failures=$((failures + 1))
wait "$e2e_pid" || failures=$((failures + 1))
cat "$build/e2e.log"
echo "facecheck tests on bionic under qemu-aarch64 (Cortex-A53, Android 6.0): $(($(seconds) - start)) s"

if [ "$failures" -ne 0 ]; then
  echo "bionic tests: $failures part(s) failed" >&2
  exit 1
fi
echo "bionic tests passed"
