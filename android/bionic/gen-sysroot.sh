#!/usr/bin/env bash
# Generates the Android sysroot that android/bionic/ld-android.sh links against, in $FACECHECK_ANDROID_SYSROOT (under
# the cargo target directory; nothing generated is committed):
#
#   lib/libc.so libm.so libdl.so liblog.so   stub libraries exporting exactly what bionic's public libraries export at
#                                            API $FACECHECK_ANDROID_API for arm64, with bionic's symbol versions
#                                            (android/bionic/stubs.py, from ../shared/android/bionic-maps)
#   lib/crtbegin_so.o crtbegin_dynamic.o     the start files of a shared library / an executable (crtbegin_*.c)
#   lib/crtend.o                             the Android ABI note and a non-executable stack (crtend.S)
#   lib/libunwind.a                          LLVM libunwind compiled from rustup's rust-src (the unwinder std's panics
#                                            use: `-lunwind`), with clang for aarch64-linux-android
#   symbols/LIB.symbols                      the exported symbols of each stub (for scripts/check-android-so.sh)
#
#   android/bionic/gen-sysroot.sh            (after sourcing android/bionic/env.sh; called by the scripts)
#
# It is regenerated only when one of its inputs changed (a digest of them is kept in the sysroot). Needs python3,
# clang, lld, the glibc aarch64 headers (libc6-dev-arm64-cross: libunwind includes <link.h>, <pthread.h>, ...; see
# bionic-errno.h for the one difference that matters) and rustup's rust-src; install them first (the scripts do).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
: "${FACECHECK_ANDROID_SYSROOT:?source android/bionic/env.sh first}"
: "${FACECHECK_ANDROID_API:?source android/bionic/env.sh first}"
maps="${FACECHECK_BIONIC_MAPS:-$repo/../shared/android/bionic-maps}"
[ -f "$maps/libc.map.txt" ] || { echo "error: bionic's symbol maps not found in $maps" >&2; exit 1; }
unwind_src="$(rustc --print sysroot)/lib/rustlib/src/rust/src/llvm-project/libunwind"
[ -d "$unwind_src/src" ] || { echo "error: no libunwind in rust-src ($unwind_src): rustup component add rust-src" >&2; exit 1; }

sysroot=$FACECHECK_ANDROID_SYSROOT
api=$FACECHECK_ANDROID_API
# The linker wrapper, where env.sh points cargo (a path that does not depend on the checkout).
mkdir -p "$(dirname "$CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER")"
if ! cmp -s "$here/ld-android.sh" "$CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER"; then
  cp "$here/ld-android.sh" "$CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER"
  chmod +x "$CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER"
fi
digest=$(
  {
    echo "api $api"
    clang --version | head -1
    ld.lld --version
    rustc --version
    cat "$here"/gen-sysroot.sh "$here"/ld-android.sh "$here"/stubs.py "$here"/crtbegin_so.c "$here"/crtbegin_dynamic.c "$here"/crtend.S \
      "$here"/bionic-errno.h "$maps"/*.map.txt
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$sysroot/inputs.sha256" ] && [ "$(cat "$sysroot/inputs.sha256")" = "$digest" ]; then
  exit 0
fi
echo "generating the Android API $api sysroot in $sysroot" >&2
rm -rf "$sysroot"
# cargo does not know what the linker links against: remove what was linked against an older sysroot (the shared
# libraries and executables of the Android target; the compiled crates stay), so that cargo links them again.
deps="$CARGO_TARGET_DIR/$FACECHECK_ANDROID_TARGET/release/deps"
if [ -d "$deps" ]; then
  find "$deps" -maxdepth 1 -type f \( -name '*.so' -o \( -perm -u+x ! -name '*.*' \) \) -delete
fi
work="$sysroot/work"
mkdir -p "$sysroot/lib" "$sysroot/symbols" "$work/stubs" "$work/unwind"

target="--target=aarch64-linux-android$api"
# x18 is bionic's platform register and outline atomics would need libgcc: the same rules as for ring's C.
cflags=("$target" -O2 -fPIC -ffixed-x18 -mno-outline-atomics -fno-stack-protector -funwind-tables)

# 1. Stub libraries: an empty function or a zero word per symbol, and bionic's version for each.
python3 "$here/stubs.py" "$maps" "$api" "$work/stubs" >&2
for lib in libc libm libdl liblog; do
  clang "${cflags[@]}" -c "$work/stubs/$lib.S" -o "$work/stubs/$lib.o"
  ld.lld -shared -soname "$lib.so" --version-script "$work/stubs/$lib.ver" --hash-style=both \
    -z max-page-size=16384 -o "$sysroot/lib/$lib.so" "$work/stubs/$lib.o"
  cp "$work/stubs/$lib.symbols" "$sysroot/symbols/"
done

# 2. Start and end files (freestanding C and assembly: no libc headers).
clang "${cflags[@]}" -ffreestanding -nostdlibinc -c "$here/crtbegin_so.c" -o "$sysroot/lib/crtbegin_so.o"
clang "${cflags[@]}" -ffreestanding -nostdlibinc -c "$here/crtbegin_dynamic.c" -o "$sysroot/lib/crtbegin_dynamic.o"
clang "${cflags[@]}" -DANDROID_API="$api" -c "$here/crtend.S" -o "$sysroot/lib/crtend.o"

# 3. LLVM libunwind, as Rust's own build of it for Android: C and C++ without exceptions, RTTI or a C++ library,
# hidden symbols (the JNI library exports only its JNI functions anyway). glibc's aarch64 headers stand in for
# bionic's: -nostdlibinc keeps the host's x86_64 headers out; bionic-errno.h maps errno to bionic's __errno.
unwind_flags=("${cflags[@]}" -fvisibility=hidden -fstrict-aliasing -nostdlibinc -isystem /usr/aarch64-linux-gnu/include
  -I "$unwind_src/include" -D_LIBUNWIND_IS_NATIVE_ONLY -DNDEBUG -U_FORTIFY_SOURCE)
objects=()
for source in libunwind.cpp UnwindLevel1.c UnwindLevel1-gcc-ext.c UnwindRegistersRestore.S UnwindRegistersSave.S; do
  object="$work/unwind/${source%.*}.o"
  case "$source" in
    *.cpp) clang++ "${unwind_flags[@]}" -include "$here/bionic-errno.h" -std=c++17 -nostdinc++ -fno-exceptions -fno-rtti -c "$unwind_src/src/$source" -o "$object" ;;
    *.c) clang "${unwind_flags[@]}" -include "$here/bionic-errno.h" -std=c99 -c "$unwind_src/src/$source" -o "$object" ;;
    *.S) clang "${unwind_flags[@]}" -c "$unwind_src/src/$source" -o "$object" ;;
  esac
  objects+=("$object")
done
llvm-ar rcs "$sysroot/lib/libunwind.a" "${objects[@]}"

rm -rf "$work"
echo "$digest" >"$sysroot/inputs.sha256"
