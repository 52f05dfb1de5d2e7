/* Forced into LLVM libunwind's compilation (gen-sysroot.sh, `-include`): it is compiled against Debian's glibc
 * headers for aarch64 (there are no bionic headers without the NDK), and glibc's errno is a call to
 * __errno_location, which bionic does not have. bionic's is __errno. Every other symbol libunwind takes from libc
 * has the same name and ABI in both; scripts/check-android-so.sh checks that the library needs nothing bionic lacks. */
#include <errno.h>
#undef errno
#ifdef __cplusplus
extern "C"
#endif
int *__errno(void);
#define errno (*__errno())
