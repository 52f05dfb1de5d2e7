/* The start of every shared library linked against the generated sysroot (the NDK's crtbegin_so.o does the same):
 * the library's __dso_handle, which __cxa_atexit and __cxa_thread_atexit_impl registrations (Rust's thread-local
 * destructors) are keyed by, and a destructor that runs those registrations when the library is unloaded, before
 * its code is unmapped. Compiled by android/bionic/gen-sysroot.sh; freestanding (no headers). */

extern void __cxa_finalize(void *dso);

__attribute__((visibility("hidden"))) void *__dso_handle = &__dso_handle;

__attribute__((visibility("hidden"), destructor)) void __on_dlclose(void) {
  __cxa_finalize(&__dso_handle);
}
