/* The start of an executable linked against the generated sysroot (the NDK's crtbegin_dynamic.o): the kernel enters
 * at _start with the stack pointer at argc; bionic's __libc_init sets up libc (the dynamic linker has already run
 * the constructors) and calls main, then exit(). Used by the bionic test driver and the core's test binaries.
 * Compiled by android/bionic/gen-sysroot.sh; freestanding (no headers). */

typedef struct {
  void (**preinit_array)(void);
  void (**init_array)(void);
  void (**fini_array)(void);
} structors_array_t;

extern int main(int argc, char **argv, char **envp);
extern void __libc_init(void *raw_args, void (*onexit)(void), int (*slingshot)(int, char **, char **),
                        const structors_array_t *structors) __attribute__((noreturn));

__attribute__((visibility("hidden"))) void *__dso_handle = &__dso_handle;

/* No arrays: the linker runs the executable's .init_array; bionic then calls .fini_array only when given one. */
static const structors_array_t structors = {0, 0, 0};

__attribute__((visibility("hidden"), noreturn, used)) void __start_main(void *raw_args) {
  __libc_init(raw_args, 0, &main, &structors);
}

__asm__(".text\n"
        ".globl _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  b __start_main\n"
        ".size _start, .-_start\n");
