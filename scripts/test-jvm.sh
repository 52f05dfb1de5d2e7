#!/usr/bin/env bash
# Host JVM tests of the JNI bridge and of the app's check-in flow: builds the x86_64 libfacecheck_jni.so, the
# facecheck CLI (the fleet-side verifier) and the fleet service, compiles the plain-JVM wrapper
# (android/facecheck-api, javac), the app's plain-Kotlin flow (android/flow) and the Kotlin test harnesses
# (android/host-tests, Debian's kotlinc), and runs them on the real photos of crates/facecheck/tests/fixtures:
# HostTests drives the bridge; FlowTests drives the flow against a real `facecheck-fleet serve` on loopback.
# Each prints `N passed, M failed`; the script exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source android/toolchain.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"

command -v javac >/dev/null || ensure_debs openjdk-17-jdk-headless
# org.json: on Android it is part of the platform; on the host, Debian's build of Android's own implementation.
ensure_debs kotlin libandroid-json-java
json_jar=/usr/share/java/com.android.json.jar

# The library with its test-only natives (feature `testing`: panics on demand), and the fleet-side verifier. Built
# with the workspace's feature set (as `cargo test --release --workspace` resolves it): with `-p`, cargo would resolve
# the dependencies' features for that package alone and compile tract (and the fleet's stack) again.
cargo build --release --workspace --lib --bins --tests --features facecheck-jni/testing
lib="$CARGO_TARGET_DIR/release/libfacecheck_jni.so"
cli="$CARGO_TARGET_DIR/release/facecheck"
fleet="$CARGO_TARGET_DIR/release/facecheck-fleet"

build="$CARGO_TARGET_DIR/jvm-tests"
rm -rf "$build"
mkdir -p "$build/classes" "$build/work"
mapfile -t java_sources < <(find android/facecheck-api/src/main/java android/host-tests/src -name '*.java' | sort)
javac --release 8 -Xlint:all -Xlint:-options -Werror -encoding UTF-8 -d "$build/classes" "${java_sources[@]}"
mapfile -t kotlin_sources < <(find android/flow/src/main/java android/host-tests/src -name '*.kt' | sort)
kotlinc -jvm-target 1.8 -Werror -cp "$build/classes:$json_jar" -d "$build/classes" "${kotlin_sources[@]}" \
  2> >(grep -v -e '^OpenJDK 64-Bit Server VM warning' >&2)

# -Xcheck:jni makes the JVM check every JNI call of the bridge. (It also warns once about the JDK's own JPEG reader,
# "JNI local refs: 33, exceeds capacity", when the harness draws its test pictures with ImageIO.) The two panic
# tests print the panic messages; backtraces are turned off.
classpath="$build/classes:/usr/share/java/kotlin-stdlib.jar:$json_jar"
failures=0
RUST_BACKTRACE=0 java -Djava.awt.headless=true -Xcheck:jni -cp "$classpath" \
  com.facecheck.hosttest.HostTestsKt "$lib" "$repo" "$cli" "$build/work" || failures=$((failures + 1))
# The flow against the real fleet service (its own child process on a free loopback port, SQLite in the work dir).
RUST_BACKTRACE=0 java -Xcheck:jni -cp "$classpath" \
  com.facecheck.hosttest.FlowTestsKt "$lib" "$repo" "$fleet" "$build/flow" || failures=$((failures + 1))
exit $((failures > 0))
