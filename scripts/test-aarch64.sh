#!/usr/bin/env bash
# The core's test suite (`-p facecheck`: golden outputs against onnxruntime, end-to-end, cross-architecture
# agreement with x86_64, the tract kernels chosen) built for aarch64-unknown-linux-gnu and run under qemu-aarch64,
# twice: on a Cortex-A53 (NEON without the dot product or SVE) and on qemu's `max` CPU (dot product, SVE2, ...).
# Installs what it needs (Debian packages, the rustup target) when missing. The cross linker and the qemu runner
# are set here, in this script's environment only, not in a cargo configuration that would affect other builds.
# A cold build of tract for aarch64 takes a while: keep CARGO_TARGET_DIR (as .ci/run does) across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user) # Debian's qemu-user ships /usr/bin/qemu-aarch64
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"
# The build scripts of tract-linalg (its assembly kernels) and ring find aarch64-linux-gnu-gcc by themselves. Setting
# CC_aarch64_unknown_linux_gnu here would rebuild them whenever a hand-run cross build goes without it.

seconds() { date +%s; }
start=$(seconds)
cargo test --release -p facecheck --target "$target" --no-run
echo "aarch64 build of the core's tests: $(($(seconds) - start)) s"

# Once on a Cortex-A53 (NEON f32 kernels), once on qemu's default CPU `max` (dot product, SVE2: tract takes its SVE
# kernels, as on an Armv9 phone). FACECHECK_EXPECT_CPU lets the kernel test check that tract saw the CPU asked for;
# --show-output prints the kernels it chose and the differences to x86_64. Under qemu on 2 cores the whole suite
# took 7-8 minutes on the A53 and ~10 on `max` (SVE is slower to emulate), so the second run skips the check-in
# policy tests (`checkin_*`, ~4 minutes): they add no arithmetic that the golden, cross-architecture and end-to-end
# engine tests do not already run on that CPU.
for cpu in cortex-a53 default; do
  echo "== facecheck tests on aarch64 under qemu, CPU $cpu"
  start=$(seconds)
  if [ "$cpu" = default ]; then
    env -u QEMU_CPU FACECHECK_EXPECT_CPU=max \
      cargo test --release -p facecheck --target "$target" -- --show-output --skip checkin_
  else
    QEMU_CPU=$cpu FACECHECK_EXPECT_CPU=$cpu cargo test --release -p facecheck --target "$target" -- --show-output
  fi
  echo "facecheck tests under qemu-aarch64 (CPU $cpu): $(($(seconds) - start)) s"
done
