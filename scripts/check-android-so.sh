#!/usr/bin/env bash
# Static checks of the Android JNI library (android/bionic/check_so.py does the ELF part):
#
#   scripts/check-android-so.sh [--stripped] [--testing] [LIB.so]
#       default LIB.so: $CARGO_TARGET_DIR/android/arm64-v8a/libfacecheck_jni.so (scripts/build-android-so.sh)
#
# AArch64 shared object; NEEDED only libc/libm/libdl/liblog; every undefined symbol exported, with its version, by
# bionic at the minimum API level (23) according to bionic's own symbol maps; the JNI functions of NativeBridge.java
# exported and nothing else (no test-only entry point unless --testing); 16 KB-aligned LOAD segments; no text
# relocations, no W+X segment, no ELF TLS; the Android ABI note; stripped (--stripped). And one check no linker does:
# no instruction of the library touches x18, bionic's reserved platform register (the shadow call stack on recent
# Android), but libunwind's save and restore of a whole register context: C and assembly must be compiled with
# -ffixed-x18 (rustc's Android target reserves it itself).
# Skips, with a message, when ../shared/android is absent (the maps are needed); exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"

flags=()
lib=""
for arg in "$@"; do
  case "$arg" in
    --stripped | --testing) flags+=("$arg") ;;
    -*) echo "usage: $0 [--stripped] [--testing] [LIB.so]" >&2; exit 2 ;;
    *) lib=$arg ;;
  esac
done
lib="${lib:-$CARGO_TARGET_DIR/android/arm64-v8a/libfacecheck_jni.so}"

if [ ! -f "$repo/../shared/android/bionic-maps/libc.map.txt" ]; then
  echo "skipping the Android library checks: ../shared/android (bionic's symbol maps) is absent beside the clone"
  exit 0
fi
[ -f "$lib" ] || { echo "error: $lib not found (scripts/build-android-so.sh builds it)" >&2; exit 1; }
source android/toolchain.sh
ensure_debs clang lld llvm python3 libc6-dev-arm64-cross
source android/bionic/env.sh
android/bionic/gen-sysroot.sh # the symbol lists of the API level (nothing is rebuilt when they are current)

echo "== static checks of $lib"
status=0
python3 android/bionic/check_so.py "$lib" "$FACECHECK_ANDROID_SYSROOT/symbols" "$FACECHECK_ANDROID_API" "$repo" \
  "${flags[@]}" || status=1

# x18: any mention of x18/w18 as an operand in the disassembly (reads would be as wrong as writes: bionic and the
# shadow call stack own the register), except LLVM libunwind's save and restore of the whole register context
# (`stp`/`ldp x18, x19, [x0, #144]` in __unw_getcontext and __libunwind_Registers_arm64_jumpto: slot 18 of the
# context, put back as it was taken, as in the NDK's own libunwind).
# The disassembly needs the mapping symbols ($x, $d) that tell code from the data in .text (constant tables of the
# assembly kernels), which stripping removes: it is taken from the unstripped copy that build-android-so.sh keeps.
code="$lib"
[ -f "$(dirname "$lib")/unstripped/$(basename "$lib")" ] && code="$(dirname "$lib")/unstripped/$(basename "$lib")"
if ! llvm-readelf -S -W "$code" | grep -c ' \.symtab ' >/dev/null; then
  echo "note: $code is stripped and has no unstripped copy beside it: the x18 check is skipped"
  uses=""
else
  uses=$(llvm-objdump -d --no-show-raw-insn "$code" | grep -E '[[:space:][][xw]18([^0-9]|$)' || true)
fi
context=$(grep -cE '[[:space:]](stp|ldp)[[:space:]]+x18, x19, \[x0, #144\]$' <<<"$uses" || true)
others=$(grep -vE '[[:space:]](stp|ldp)[[:space:]]+x18, x19, \[x0, #144\]$' <<<"$uses" | grep -c . || true)
if [ "$others" -eq 0 ] && [ "$context" -le 2 ]; then
  echo "ok - no instruction uses x18 (the platform register) but libunwind's context save/restore ($context)"
else
  echo "FAIL - instructions use x18, bionic's platform register:"
  grep -vE '[[:space:]](stp|ldp)[[:space:]]+x18, x19, \[x0, #144\]$' <<<"$uses" | head -5
  echo "     (in $code)"
  status=1
fi
[ "$status" -eq 0 ] && echo "static checks passed: $lib"
exit "$status"
