/* The end of every library and executable linked against the generated sysroot (crtend_so.o, crtend_android.o):
 * the Android ABI note with the API level it was built for (as the NDK's crtbrand), and a non-executable stack. */
  .section .note.android.ident,"a",%note
  .balign 4
  .long 2f-1f            /* namesz */
  .long 3f-2f            /* descsz */
  .long 1                /* type: NT_VERSION, the API level */
1:.asciz "Android"
  .balign 4
2:.long ANDROID_API
3:
  .section .note.GNU-stack,"",%progbits
