#!/usr/bin/env bash
# The ARM instruction-count proxy (issue 15): executed arm64 instructions per check-in stage of the shipped Android
# build, on a Cortex-A53 and a Cortex-A76, counted by ../shared/tools/armcount (a qemu TCG plugin).
#
#   scripts/armcount.sh                   the table: model load + optimise and each stage, on both CPUs, with the
#                                         instruction mix of the whole check-in (fmla, loads, ...)
#   scripts/armcount.sh --check           CI: fail when a phase takes more than 3 % (ARMCOUNT_TOLERANCE) above
#                                         benches/armcount-expected.json, or less than 90 % of it (update the file
#                                         with the improvement); totals only, one check-in per CPU
#   scripts/armcount.sh --update          rewrite benches/armcount-expected.json from this run
#
# What runs: crates/facecheck/examples/armcount.rs, built for aarch64-linux-android exactly as the shipped library
# (android/bionic/env.sh; the same cargo command as scripts/test-bionic.sh, so nothing is compiled twice), run by
# qemu-aarch64 on Android 6.0's linker and libraries (../shared/android/userland-6.0) with `-cpu cortex-a53` (NEON,
# no dot product, no fp16) and `-cpu cortex-a76` (dot product, fp16): qemu sets the HWCAP bits tract reads, so tract
# picks the kernels it would pick on such a phone. On Android tract does not read the CPU part (its detection is for
# target_os linux), so it uses its Generic arm64 kernels on every phone, here as there. The photo is
# crates/facecheck/tests/fixtures/image_T1.jpg (640x480, a live face); the markers are described in the example.
#
# Counts are deterministic for a given build (same compiler, same code): a regression check, not a timing test.
# Building the plugin needs QEMU 7.2's plugin header, which no Debian package ships: it is taken from the upstream
# source tarball in Debian's pool (fetched by apt's downloader, pinned by SHA-256, cached in ~/.cache). Skips, with a
# message, when ../shared/tools/armcount or ../shared/android is absent. Prints the seconds each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"
mode=table
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --update) mode=update ;;
  *) echo "usage: $0 [--check | --update]" >&2; exit 2 ;;
esac
tool="$repo/../shared/tools/armcount"
userland="$repo/../shared/android/userland-6.0"
for dir in "$tool" "$userland" "$repo/../shared/android/bionic-maps"; do
  if [ ! -d "$dir" ]; then
    echo "skipping the ARM instruction counts: ${dir#"$repo/"} is absent beside the clone"
    exit 0
  fi
done
cache="${FACECHECK_ARMCOUNT_CACHE:-$HOME/.cache/facecheck-armcount}"
expected="$repo/benches/armcount-expected.json"
photo="$repo/crates/facecheck/tests/fixtures/image_T1.jpg"
cpus=(cortex-a53 cortex-a76)
seconds() { date +%s; }
began=$(seconds)

source android/toolchain.sh
ensure_debs qemu-user libglib2.0-dev pkg-config gcc xz-utils clang lld llvm gcc-aarch64-linux-gnu \
  libc6-dev-arm64-cross python3

# 1. The plugin, against QEMU 7.2's plugin header (the installed qemu-user is 7.2).
orig=qemu_7.2+dfsg.orig.tar.xz
orig_sha=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f
header_sha=19f277b037d05a8bcb5069f2f81a465d177208e5903048a915c56627d4c3748e
header="$cache/qemu-7.2.0/include/qemu/qemu-plugin.h"
mkdir -p "$cache"
if ! { [ -f "$header" ] && echo "$header_sha  $header" | sha256sum --check --status; }; then
  if ! { [ -f "$cache/$orig" ] && echo "$orig_sha  $cache/$orig" | sha256sum --check --status; }; then
    mirror=$(_fc_debian_mirror)
    echo "fetching $orig (QEMU 7.2's source, for its plugin header) from $mirror" >&2
    /usr/lib/apt/apt-helper download-file "$mirror/pool/main/q/qemu/$orig" "$cache/$orig" "SHA256:$orig_sha" \
      >/dev/null 2> >(grep -v 'unsandboxed' >&2)
  fi
  tar -xJf "$cache/$orig" -C "$cache" --wildcards '*/include/qemu/qemu-plugin.h'
  echo "$header_sha  $header" | sha256sum --check --status || { echo "error: $header: sha256 mismatch" >&2; exit 1; }
fi
plugin="$cache/libcount.so"
if [ ! -f "$plugin" ] || [ "$tool/count.c" -nt "$plugin" ]; then
  # shellcheck disable=SC2046
  gcc -shared -fPIC -O2 -Wall -I"$(dirname "$header")" $(pkg-config --cflags glib-2.0) -o "$plugin" "$tool/count.c"
fi

# 2. The guest: the example, built for Android as scripts/test-bionic.sh builds the core's tests.
rustup target list --installed | grep -qx aarch64-linux-android || rustup target add aarch64-linux-android
[ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/src/llvm-project/libunwind" ] || rustup component add rust-src
source android/bionic/env.sh
android/bionic/gen-sysroot.sh
start=$(seconds)
cargo build --release -p facecheck -p facecheck-jni --target "$FACECHECK_ANDROID_TARGET" --example armcount
echo "armcount: build for $FACECHECK_ANDROID_TARGET: $(($(seconds) - start)) s" >&2
guest="$CARGO_TARGET_DIR/$FACECHECK_ANDROID_TARGET/release/examples/armcount"

# 3. One run per CPU.
out="$CARGO_TARGET_DIR/armcount"
mkdir -p "$out"
hist=on
[ "$mode" = check ] && hist=off
for cpu in "${cpus[@]}"; do
  start=$(seconds)
  ANDROID_DATA=/data ANDROID_ROOT=/system qemu-aarch64 -cpu "$cpu" -L "$userland" \
    -plugin "$plugin,out=$out/$cpu.cnt,hist=$hist" "$guest" "$repo/models" "$photo" 1 \
    > "$out/$cpu.phases" 2> >(grep -v 'unsupported flags DT_FLAGS_1' >&2)
  echo "armcount: $cpu under qemu: $(($(seconds) - start)) s" >&2
done

# 4. The table, and the check against the expected counts.
python3 - "$mode" "$out" "$expected" "${ARMCOUNT_TOLERANCE:-0.03}" "${cpus[@]}" <<'PY'
import json, sys
mode, out, expected_path, tolerance, cpus = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:]

def parse(cpu):
    ids = {}
    for line in open(f"{out}/{cpu}.phases"):
        _, name, marker, *_ = line.split()
        ids[int(marker)] = name
    totals, hist = {}, {}
    for line in open(f"{out}/{cpu}.cnt"):
        f = line.split()
        if f[0] == "marker":
            totals[int(f[1])] = int(f[3])
        elif f[0] == "hist" and f[1] != "end":
            hist.setdefault(int(f[1]), {})[f[2]] = int(f[3])
    markers = sorted(totals)
    phases, previous = {}, None
    for m in markers:
        if previous is not None and m in ids:
            phases[ids[m]] = totals[m] - totals[previous]
        previous = m
    stages = [n for n in phases if n != "load" and ":" not in n]  # "detect:letterbox": a part, measured again
    phases["check-in"] = sum(phases[n] for n in stages)
    mix = {}
    if hist:
        first, last = 2, max(m for m in markers if m in ids and ":" not in ids[m])
        keys = set(hist.get(last, {}))
        mix = {k: hist[last].get(k, 0) - hist.get(first, {}).get(k, 0) for k in keys}
    return phases, mix

runs = {cpu: parse(cpu) for cpu in cpus}
names = list(runs[cpus[0]][0])
M = 1e6
print("| phase | " + " | ".join(f"{c} (M instructions)" for c in cpus) + " |")
print("|---|" + "---|" * len(cpus))
for n in names:
    label = f"**{n}**" if n in ("check-in", "load") else n
    print(f"| {label} | " + " | ".join(f"{runs[c][0][n] / M:.1f}" for c in cpus) + " |")
for cpu in cpus:
    mix = runs[cpu][1]
    if mix:
        total = sum(mix.values())
        top = sorted(mix.items(), key=lambda kv: -kv[1])[:8]
        print(f"{cpu} check-in mix: " + ", ".join(f"{k} {v / M:.1f} M ({100 * v / total:.0f} %)" for k, v in top))

counts = {cpu: {n: v for n, v in runs[cpu][0].items()} for cpu in cpus}
if mode == "update":
    with open(expected_path, "w") as f:
        json.dump({"photo": "crates/facecheck/tests/fixtures/image_T1.jpg", "instructions": counts}, f, indent=2)
        f.write("\n")
    print(f"wrote {expected_path}")
elif mode == "check":
    expected = json.load(open(expected_path))["instructions"]
    failures = []
    for cpu in cpus:
        for n, want in expected[cpu].items():
            got = counts[cpu].get(n)
            if got is None:
                failures.append(f"{cpu} {n}: not measured")
            # 0.1 M of slack besides the tolerance: a phase of a few thousand instructions (match) may move by
            # more than 3 % with any change of compiler.
            elif got > want * (1 + tolerance) + 1e5:
                failures.append(f"{cpu} {n}: {got / M:.2f} M instructions, {100 * (got / want - 1):.1f} % above "
                                f"the expected {want / M:.2f} M")
            elif got < want * 0.9 - 1e5:
                failures.append(f"{cpu} {n}: {got / M:.2f} M, {100 * (1 - got / want):.1f} % below the expected "
                                f"{want / M:.2f} M: an improvement; record it with scripts/armcount.sh --update")
    if failures:
        print("ARM instruction counts off their expected values (benches/armcount-expected.json):", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        sys.exit(1)
    print(f"ARM instruction counts within {100 * tolerance:.0f} % of benches/armcount-expected.json")
PY
echo "armcount: $(($(seconds) - began)) s in all" >&2
