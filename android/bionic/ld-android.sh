#!/usr/bin/env bash
# The linker for aarch64-linux-android without the NDK (CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER, set by
# android/bionic/env.sh, with `-C linker-flavor=ld`: rustc passes ld-style arguments). Also links the bionic test
# driver. Runs Debian's ld.lld with the generated sysroot (android/bionic/gen-sysroot.sh) and Android's rules:
# - the start file first and crtend.o last (crtbegin_so.o for a shared library, crtbegin_dynamic.o for an
#   executable, which also gets bionic's dynamic linker, /system/bin/linker64);
# - `-L` the stub libc/libm/libdl/liblog (API $FACECHECK_ANDROID_API) and libunwind.a;
# - shared libraries with `-z defs` (a symbol bionic does not export at that API level fails the link, unless the
#   reference is weak) and their file name as SONAME;
# - LOAD segments aligned to 16 KB (`-z max-page-size=16384`: phones with 16 KB pages load them too), both hash
#   styles, RELRO with immediate binding, no executable stack, a build id.
set -euo pipefail
lib="${FACECHECK_ANDROID_SYSROOT:?source android/bionic/env.sh first}/lib"
shared=0
for arg in "$@"; do
  if [ "$arg" = -shared ]; then shared=1; fi
done
output=""
previous=""
for arg in "$@"; do
  if [ "$previous" = -o ]; then output=$arg; fi
  previous=$arg
done
if [ "$shared" -eq 1 ]; then
  start=("$lib/crtbegin_so.o")
  # The SONAME is the file name (Android's linker looks libraries up by it; rustc gives none with ld-style flags).
  kind=(-z defs -soname "$(basename "$output")")
else
  start=("$lib/crtbegin_dynamic.o")
  kind=(--dynamic-linker=/system/bin/linker64)
fi
exec ld.lld "${start[@]}" "$@" -L "$lib" "${kind[@]}" --hash-style=both -z max-page-size=16384 \
  -z relro -z now -z noexecstack --build-id=sha1 "$lib/crtend.o"
