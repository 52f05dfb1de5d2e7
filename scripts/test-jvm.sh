#!/usr/bin/env bash
# Host JVM tests of the JNI bridge: builds the x86_64 libfacecheck_jni.so and the facecheck CLI (the fleet-side
# verifier), compiles the plain-JVM wrapper (android/facecheck-api, javac) and the Kotlin test harness
# (android/host-tests, Debian's kotlinc), and runs the harness on the real photos of crates/facecheck/tests/fixtures.
# It prints `N passed, M failed` and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source android/toolchain.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"

command -v javac >/dev/null || ensure_debs openjdk-17-jdk-headless
ensure_debs kotlin

# The library with its test-only natives (feature `testing`: panics on demand), and the fleet-side verifier. Built
# with the workspace's feature set (as `cargo test --release --workspace` resolves it): with `-p`, cargo would resolve
# the dependencies' features for that package alone and compile tract (and the fleet's stack) again.
cargo build --release --workspace --lib --bins --tests --features facecheck-jni/testing
lib="$CARGO_TARGET_DIR/release/libfacecheck_jni.so"
cli="$CARGO_TARGET_DIR/release/facecheck"

build="$CARGO_TARGET_DIR/jvm-tests"
rm -rf "$build"
mkdir -p "$build/classes" "$build/work"
mapfile -t java_sources < <(find android/facecheck-api/src/main/java android/host-tests/src -name '*.java' | sort)
javac --release 8 -Xlint:all -Xlint:-options -Werror -encoding UTF-8 -d "$build/classes" "${java_sources[@]}"
mapfile -t kotlin_sources < <(find android/host-tests/src -name '*.kt' | sort)
kotlinc -jvm-target 1.8 -Werror -cp "$build/classes" -d "$build/classes" "${kotlin_sources[@]}" \
  2> >(grep -v -e '^OpenJDK 64-Bit Server VM warning' >&2)

# -Xcheck:jni makes the JVM check every JNI call of the bridge. (It also warns once about the JDK's own JPEG reader,
# "JNI local refs: 33, exceeds capacity", when the harness draws its test pictures with ImageIO.) The two panic
# tests print the panic messages; backtraces are turned off.
RUST_BACKTRACE=0 java -Djava.awt.headless=true -Xcheck:jni -cp "$build/classes:/usr/share/java/kotlin-stdlib.jar" \
  com.facecheck.hosttest.HostTestsKt "$lib" "$repo" "$cli" "$build/work"
