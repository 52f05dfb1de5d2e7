/* The bionic test driver (scripts/test-bionic.sh): an Android executable that dlopen()s libfacecheck_jni.so and
 * calls its JNI entry points the way ART would, through a minimal hand-built JNIEnv and JavaVM. It runs under
 * qemu-aarch64 with the dynamic linker and libraries of a real Android userland (../shared/android/userland-*).
 *
 *   jni-driver full  LIB.so REPO WORKDIR   every entry point: open, screen, enroll, status, devicePublicKey,
 *                                          registrationStatement, checkIn (match, no match), activeChallenge,
 *                                          checkInActive (match, bad shapes), erase, close, and the
 *                                          test-only panics (the library built with --features testing)
 *   jni-driver smoke LIB.so REPO WORKDIR   the shipped library: loads, names its models, refuses a bad key
 *                                          with a typed exception, closes (no model is loaded: quick)
 *
 * The "JVM" here is only what the bridge uses: classes by name, strings (ASCII), byte, int and long arrays, object
 * arrays, objects made by constructors (their arguments are kept, so results and exceptions can be read back) and one
 * pending exception. Any other JNI function stops the test with its index in the JNI function table.
 *
 * Freestanding C: no NDK headers exist here, so the few libc functions used are declared below (bionic's API 23
 * has them all, and the link against the generated stubs checks that). Prints one line per check and
 * `N passed, M failed`; exits non-zero on any failure. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* --- libc (bionic) --- */
typedef long ssize_t;
extern void *malloc(size_t);
extern void *calloc(size_t, size_t);
extern void free(void *);
extern void *memcpy(void *, const void *, size_t);
extern int memcmp(const void *, const void *, size_t);
extern void *memset(void *, int, size_t);
extern size_t strlen(const char *);
extern int strcmp(const char *, const char *);
extern int strncmp(const char *, const char *, size_t);
extern char *strstr(const char *, const char *);
extern char *strchr(const char *, int);
extern int snprintf(char *, size_t, const char *, ...);
extern int dprintf(int, const char *, ...);
extern int vdprintf(int, const char *, va_list);
extern int open(const char *, int, ...);
extern ssize_t read(int, void *, size_t);
extern long lseek(int, long, int);
extern int close(int);
extern int unlink(const char *);
extern void exit(int) __attribute__((noreturn));
extern void abort(void) __attribute__((noreturn));
extern void *dlopen(const char *, int);
extern void *dlsym(void *, const char *);
extern char *dlerror(void);
#define RTLD_NOW 2
#define SEEK_END 2

/* --- JNI types (the JNI specification's, for LP64) --- */
typedef uint8_t jboolean;
typedef int8_t jbyte;
typedef uint16_t jchar;
typedef int16_t jshort;
typedef int32_t jint;
typedef int64_t jlong;
typedef float jfloat;
typedef double jdouble;
typedef jint jsize;
typedef struct obj *jobject;
typedef union {
  jboolean z;
  jbyte b;
  jchar c;
  jshort s;
  jint i;
  jlong j;
  jfloat f;
  jdouble d;
  jobject l;
} jvalue;
typedef void *fn;
typedef fn *const *JNIEnvPtr; /* JNIEnv*: a pointer to a pointer to the function table */
#define JNI_OK 0
#define JNI_VERSION_1_6 0x00010006

static void fail_fatal(const char *fmt, ...) __attribute__((noreturn));
static void fail_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dprintf(1, "FATAL: ");
  vdprintf(1, fmt, ap);
  dprintf(1, "\n");
  va_end(ap);
  exit(2);
}

/* --- the object model --- */
enum kind { K_CLASS, K_STRING, K_BYTES, K_INTS, K_LONGS, K_ARRAY, K_INSTANCE };
#define MAX_ARGS 16

struct obj {
  enum kind kind;
  struct obj *cls;  /* the class of a string, array or instance */
  const char *name; /* a class's name (java/lang/String) */
  char *str;        /* a string's bytes, NUL-terminated */
  jsize len;        /* an array's length */
  jbyte *bytes;     /* a byte[]'s elements */
  jint *ints;       /* an int[]'s */
  jlong *longs;     /* a long[]'s */
  struct obj **elems;
  char sig[256];    /* an instance: its constructor's signature, and the arguments */
  int nargs;
  jvalue args[MAX_ARGS];
};

struct method {
  struct obj *cls;
  char name[64];
  char sig[256];
};

#define MAX_CLASSES 64
static struct obj *classes[MAX_CLASSES];
static int nclasses;
static struct obj *pending; /* the pending exception */
static int unexpected_calls;

static void *xcalloc(size_t n) {
  void *p = calloc(1, n);
  if (!p) fail_fatal("out of memory (%zu bytes)", n);
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *copy = xcalloc(n + 1);
  memcpy(copy, s, n);
  return copy;
}

static struct obj *class_named(const char *name) {
  for (int i = 0; i < nclasses; i++)
    if (strcmp(classes[i]->name, name) == 0) return classes[i];
  if (nclasses == MAX_CLASSES) fail_fatal("too many classes");
  struct obj *cls = xcalloc(sizeof *cls);
  cls->kind = K_CLASS;
  cls->name = xstrdup(name);
  classes[nclasses++] = cls;
  return cls;
}

/* The superclass chain of the classes the bridge meets; everything else extends Object. */
static const char *superclass_name(const char *name) {
  if (strcmp(name, "java/lang/Object") == 0) return NULL;
  if (strncmp(name, "com/facecheck/api/FacecheckException$", 37) == 0) return "com/facecheck/api/FacecheckException";
  if (strcmp(name, "com/facecheck/api/FacecheckException") == 0) return "java/lang/Exception";
  if (strcmp(name, "java/lang/RuntimeException") == 0) return "java/lang/Exception";
  if (strcmp(name, "java/lang/Exception") == 0 || strcmp(name, "java/lang/Error") == 0) return "java/lang/Throwable";
  if (strcmp(name, "dalvik/system/PathClassLoader") == 0) return "java/lang/ClassLoader";
  return "java/lang/Object";
}

/* The interfaces the jni crate checks for: String is a CharSequence (and Serializable, Comparable). */
static int implements(const char *name, const char *interface) {
  return strcmp(name, "java/lang/String") == 0 &&
         (strcmp(interface, "java/lang/CharSequence") == 0 || strcmp(interface, "java/io/Serializable") == 0 ||
          strcmp(interface, "java/lang/Comparable") == 0);
}

static int is_subclass(const char *name, const char *of) {
  for (const char *c = name; c; c = superclass_name(c))
    if (strcmp(c, of) == 0 || implements(c, of)) return 1;
  return 0;
}

static struct obj *new_string(const char *s) {
  struct obj *o = xcalloc(sizeof *o);
  o->kind = K_STRING;
  o->cls = class_named("java/lang/String");
  o->str = xstrdup(s);
  return o;
}

static struct obj *new_bytes(const void *data, jsize len) {
  struct obj *o = xcalloc(sizeof *o);
  o->kind = K_BYTES;
  o->cls = class_named("[B");
  o->len = len;
  o->bytes = xcalloc(len ? (size_t)len : 1);
  if (data) memcpy(o->bytes, data, (size_t)len);
  return o;
}

static struct obj *new_ints(const jint *data, jsize len) {
  struct obj *o = xcalloc(sizeof *o);
  o->kind = K_INTS;
  o->cls = class_named("[I");
  o->len = len;
  o->ints = xcalloc(sizeof(jint) * (len ? (size_t)len : 1));
  memcpy(o->ints, data, sizeof(jint) * (size_t)len);
  return o;
}

static struct obj *new_longs(const jlong *data, jsize len) {
  struct obj *o = xcalloc(sizeof *o);
  o->kind = K_LONGS;
  o->cls = class_named("[J");
  o->len = len;
  o->longs = xcalloc(sizeof(jlong) * (len ? (size_t)len : 1));
  memcpy(o->longs, data, sizeof(jlong) * (size_t)len);
  return o;
}

static struct obj *new_array(struct obj *element_class, jsize len, struct obj *init) {
  struct obj *o = xcalloc(sizeof *o);
  o->kind = K_ARRAY;
  char name[160];
  snprintf(name, sizeof name, "[L%s;", element_class ? element_class->name : "java/lang/Object");
  o->cls = class_named(name);
  o->len = len;
  o->elems = xcalloc(sizeof(struct obj *) * (len ? (size_t)len : 1));
  for (jsize i = 0; i < len; i++) o->elems[i] = init;
  return o;
}

/* The arguments of a method signature, one letter each (L for any reference). */
static int signature_args(const char *sig, char *kinds, int max) {
  int n = 0;
  const char *p = sig;
  if (*p++ != '(') return -1;
  while (*p && *p != ')') {
    if (n == max) return -1;
    char k = *p;
    if (*p == '[') {
      while (*p == '[') p++;
      if (*p == 'L') p = strchr(p, ';');
      k = 'L';
    } else if (*p == 'L') {
      p = strchr(p, ';');
    }
    if (!p) return -1;
    kinds[n++] = k;
    p++;
  }
  return n;
}

static struct obj *new_instance(struct obj *cls, const char *sig, const jvalue *args) {
  struct obj *o = xcalloc(sizeof *o);
  char kinds[MAX_ARGS];
  int n = signature_args(sig, kinds, MAX_ARGS);
  if (n < 0) fail_fatal("unsupported constructor signature %s", sig);
  o->kind = K_INSTANCE;
  o->cls = cls;
  snprintf(o->sig, sizeof o->sig, "%s", sig);
  o->nargs = n;
  for (int i = 0; i < n; i++) o->args[i] = args[i];
  return o;
}

/* --- the JNI functions the bridge calls --- */
static jint GetVersion(JNIEnvPtr env) { return JNI_VERSION_1_6; }
static jobject FindClass(JNIEnvPtr env, const char *name) { return class_named(name); }
static jobject GetSuperclass(JNIEnvPtr env, jobject cls) {
  const char *super = superclass_name(cls->name);
  return super ? class_named(super) : NULL;
}
static jboolean IsAssignableFrom(JNIEnvPtr env, jobject sub, jobject sup) { return is_subclass(sub->name, sup->name); }
static jint Throw(JNIEnvPtr env, jobject throwable) {
  pending = throwable;
  return 0;
}
static jint ThrowNew(JNIEnvPtr env, jobject cls, const char *message) {
  jvalue arg = {.l = new_string(message ? message : "")};
  pending = new_instance(cls, "(Ljava/lang/String;)V", &arg);
  return 0;
}
static jobject ExceptionOccurred(JNIEnvPtr env) { return pending; }
static void ExceptionDescribe(JNIEnvPtr env) {
  if (pending) dprintf(1, "  (pending exception %s)\n", pending->cls->name);
}
static void ExceptionClear(JNIEnvPtr env) { pending = NULL; }
static void FatalError(JNIEnvPtr env, const char *message) { fail_fatal("FatalError: %s", message); }
static jint PushLocalFrame(JNIEnvPtr env, jint capacity) { return 0; }
static jobject PopLocalFrame(JNIEnvPtr env, jobject result) { return result; }
static jobject NewGlobalRef(JNIEnvPtr env, jobject o) { return o; }
static void DeleteGlobalRef(JNIEnvPtr env, jobject o) {}
static void DeleteLocalRef(JNIEnvPtr env, jobject o) {}
static jboolean IsSameObject(JNIEnvPtr env, jobject a, jobject b) { return a == b; }
static jobject NewLocalRef(JNIEnvPtr env, jobject o) { return o; }
static jint EnsureLocalCapacity(JNIEnvPtr env, jint capacity) { return 0; }
static jobject NewObjectA(JNIEnvPtr env, jobject cls, struct method *m, const jvalue *args) {
  if (strcmp(m->name, "<init>") != 0) fail_fatal("NewObjectA with method %s", m->name);
  return new_instance(cls, m->sig, args);
}
static jobject NewObjectV(JNIEnvPtr env, jobject cls, struct method *m, va_list ap) {
  char kinds[MAX_ARGS];
  jvalue args[MAX_ARGS];
  int n = signature_args(m->sig, kinds, MAX_ARGS);
  for (int i = 0; i < n; i++) {
    switch (kinds[i]) {
      case 'J': args[i].j = va_arg(ap, jlong); break;
      case 'F': case 'D': args[i].d = va_arg(ap, double); break;
      case 'L': args[i].l = va_arg(ap, jobject); break;
      default: args[i].i = va_arg(ap, jint); break;
    }
  }
  return NewObjectA(env, cls, m, args);
}
static jobject NewObject(JNIEnvPtr env, jobject cls, struct method *m, ...) {
  va_list ap;
  va_start(ap, m);
  jobject o = NewObjectV(env, cls, m, ap);
  va_end(ap);
  return o;
}
static jobject GetObjectClass(JNIEnvPtr env, jobject o) { return o->kind == K_CLASS ? class_named("java/lang/Class") : o->cls; }
static jboolean IsInstanceOf(JNIEnvPtr env, jobject o, jobject cls) { return o == NULL || is_subclass(o->cls->name, cls->name); }
static struct method *GetMethodID(JNIEnvPtr env, jobject cls, const char *name, const char *sig) {
  struct method *m = xcalloc(sizeof *m);
  m->cls = cls;
  snprintf(m->name, sizeof m->name, "%s", name);
  snprintf(m->sig, sizeof m->sig, "%s", sig);
  return m;
}
/* The Java methods the jni crate calls to find classes as ART apps do, through the thread's context class loader:
 * Thread.currentThread(), Thread.getContextClassLoader(), ClassLoader.loadClass(String) or
 * Class.forName(String, boolean, ClassLoader) (a binary name, with dots), Class.getClassLoader(). The app's loader
 * finds every class here. */
static struct obj *the_thread, *the_loader;

static jobject call_object_method(jobject target, struct method *m, const jvalue *args) {
  if (strcmp(m->name, "currentThread") == 0) {
    if (!the_thread) the_thread = new_instance(class_named("java/lang/Thread"), "()V", NULL);
    return the_thread;
  }
  if (strcmp(m->name, "getContextClassLoader") == 0 || strcmp(m->name, "getClassLoader") == 0) {
    if (!the_loader) the_loader = new_instance(class_named("dalvik/system/PathClassLoader"), "()V", NULL);
    return the_loader;
  }
  if ((strcmp(m->name, "loadClass") == 0 || strcmp(m->name, "forName") == 0) && args && args[0].l &&
      args[0].l->kind == K_STRING) {
    char *name = xstrdup(args[0].l->str);
    for (char *p = name; *p; p++)
      if (*p == '.') *p = '/';
    struct obj *cls = class_named(name);
    free(name);
    return cls;
  }
  fail_fatal("the library called %s.%s%s, which this driver does not implement", m->cls ? m->cls->name : "?",
             m->name, m->sig);
}

static void read_varargs(struct method *m, va_list ap, jvalue *args) {
  char kinds[MAX_ARGS];
  int n = signature_args(m->sig, kinds, MAX_ARGS);
  for (int i = 0; i < n; i++) {
    switch (kinds[i]) {
      case 'J': args[i].j = va_arg(ap, jlong); break;
      case 'F': case 'D': args[i].d = va_arg(ap, double); break;
      case 'L': args[i].l = va_arg(ap, jobject); break;
      default: args[i].i = va_arg(ap, jint); break;
    }
  }
}

static jobject CallObjectMethodA(JNIEnvPtr env, jobject o, struct method *m, const jvalue *args) {
  return call_object_method(o, m, args);
}
static jobject CallObjectMethodV(JNIEnvPtr env, jobject o, struct method *m, va_list ap) {
  jvalue args[MAX_ARGS];
  read_varargs(m, ap, args);
  return call_object_method(o, m, args);
}
static jobject CallObjectMethod(JNIEnvPtr env, jobject o, struct method *m, ...) {
  va_list ap;
  va_start(ap, m);
  jobject r = CallObjectMethodV(env, o, m, ap);
  va_end(ap);
  return r;
}
static jobject CallStaticObjectMethodA(JNIEnvPtr env, jobject cls, struct method *m, const jvalue *args) {
  return call_object_method(cls, m, args);
}
static jobject CallStaticObjectMethodV(JNIEnvPtr env, jobject cls, struct method *m, va_list ap) {
  jvalue args[MAX_ARGS];
  read_varargs(m, ap, args);
  return call_object_method(cls, m, args);
}
static jobject CallStaticObjectMethod(JNIEnvPtr env, jobject cls, struct method *m, ...) {
  va_list ap;
  va_start(ap, m);
  jobject r = CallStaticObjectMethodV(env, cls, m, ap);
  va_end(ap);
  return r;
}

static jobject NewStringUTF(JNIEnvPtr env, const char *s) { return new_string(s); }
static jsize GetStringLength(JNIEnvPtr env, jobject s) { return (jsize)strlen(s->str); } /* ASCII only */
static jsize GetStringUTFLength(JNIEnvPtr env, jobject s) { return (jsize)strlen(s->str); }
static const char *GetStringUTFChars(JNIEnvPtr env, jobject s, jboolean *is_copy) {
  if (is_copy) *is_copy = 1;
  return xstrdup(s->str);
}
static void ReleaseStringUTFChars(JNIEnvPtr env, jobject s, const char *chars) { free((void *)chars); }
static void GetStringUTFRegion(JNIEnvPtr env, jobject s, jsize start, jsize len, char *buf) {
  memcpy(buf, s->str + start, (size_t)len);
  buf[len] = 0;
}
static jsize GetArrayLength(JNIEnvPtr env, jobject a) { return a->len; }
static jobject NewObjectArray(JNIEnvPtr env, jsize len, jobject element_class, jobject init) {
  return new_array(element_class, len, init);
}
static void out_of_bounds(void) {
  jvalue arg = {.l = new_string("index out of bounds")};
  pending = new_instance(class_named("java/lang/ArrayIndexOutOfBoundsException"), "(Ljava/lang/String;)V", &arg);
}
static jobject GetObjectArrayElement(JNIEnvPtr env, jobject a, jsize i) {
  if (i < 0 || i >= a->len) {
    out_of_bounds();
    return NULL;
  }
  return a->elems[i];
}
static void SetObjectArrayElement(JNIEnvPtr env, jobject a, jsize i, jobject v) {
  if (i < 0 || i >= a->len) {
    out_of_bounds();
    return;
  }
  a->elems[i] = v;
}
static jobject NewByteArray(JNIEnvPtr env, jsize len) { return new_bytes(NULL, len); }
static jbyte *GetByteArrayElements(JNIEnvPtr env, jobject a, jboolean *is_copy) {
  if (is_copy) *is_copy = 0;
  return a->bytes;
}
static void ReleaseByteArrayElements(JNIEnvPtr env, jobject a, jbyte *elems, jint mode) {}
static void GetByteArrayRegion(JNIEnvPtr env, jobject a, jsize start, jsize len, jbyte *buf) {
  if (start < 0 || len < 0 || start + len > a->len) {
    out_of_bounds();
    return;
  }
  memcpy(buf, a->bytes + start, (size_t)len);
}
static void GetIntArrayRegion(JNIEnvPtr env, jobject a, jsize start, jsize len, jint *buf) {
  if (a->kind != K_INTS) fail_fatal("GetIntArrayRegion on something other than an int[]");
  if (start < 0 || len < 0 || start + len > a->len) {
    out_of_bounds();
    return;
  }
  memcpy(buf, a->ints + start, sizeof(jint) * (size_t)len);
}
static void GetLongArrayRegion(JNIEnvPtr env, jobject a, jsize start, jsize len, jlong *buf) {
  if (a->kind != K_LONGS) fail_fatal("GetLongArrayRegion on something other than a long[]");
  if (start < 0 || len < 0 || start + len > a->len) {
    out_of_bounds();
    return;
  }
  memcpy(buf, a->longs + start, sizeof(jlong) * (size_t)len);
}
static void SetByteArrayRegion(JNIEnvPtr env, jobject a, jsize start, jsize len, const jbyte *buf) {
  if (start < 0 || len < 0 || start + len > a->len) {
    out_of_bounds();
    return;
  }
  memcpy(a->bytes + start, buf, (size_t)len);
}
static jint MonitorEnter(JNIEnvPtr env, jobject o) { return 0; }
static jint MonitorExit(JNIEnvPtr env, jobject o) { return 0; }
static jboolean ExceptionCheck(JNIEnvPtr env) { return pending != NULL; }
static jint GetObjectRefType(JNIEnvPtr env, jobject o) { return 1; /* JNILocalRefType */ }

/* The JavaVM (invoke interface): one thread, one JNIEnv. */
static fn env_table[236];
static fn *const env_functions = env_table;
static JNIEnvPtr const the_env = &env_functions;
static fn vm_table[8];
static fn *const vm_functions = vm_table;
static void *const the_vm = (void *)&vm_functions;

static jint GetJavaVM(JNIEnvPtr env, void **vm) {
  *vm = the_vm;
  return JNI_OK;
}
static jint VmGetEnv(void *vm, void **penv, jint version) {
  *penv = (void *)the_env;
  return JNI_OK;
}
static jint VmAttachCurrentThread(void *vm, void **penv, void *args) {
  *penv = (void *)the_env;
  return JNI_OK;
}
static jint VmDetachCurrentThread(void *vm) { return JNI_OK; }

/* Every other slot stops the test with its index (a JNI function this driver does not implement). */
static void unimplemented(int index) {
  unexpected_calls++;
  fail_fatal("the library called JNI function #%d, which this driver does not implement", index);
}
#define TRAP(n) static void trap_##n(void) { unimplemented(n); }
#define TRAP10(n) TRAP(n##0) TRAP(n##1) TRAP(n##2) TRAP(n##3) TRAP(n##4) TRAP(n##5) TRAP(n##6) TRAP(n##7) TRAP(n##8) TRAP(n##9)
#define SLOT(n) (fn)trap_##n,
#define SLOT10(n) SLOT(n##0) SLOT(n##1) SLOT(n##2) SLOT(n##3) SLOT(n##4) SLOT(n##5) SLOT(n##6) SLOT(n##7) SLOT(n##8) SLOT(n##9)
TRAP10() TRAP10(1) TRAP10(2) TRAP10(3) TRAP10(4) TRAP10(5) TRAP10(6) TRAP10(7) TRAP10(8) TRAP10(9) TRAP10(10)
TRAP10(11) TRAP10(12) TRAP10(13) TRAP10(14) TRAP10(15) TRAP10(16) TRAP10(17) TRAP10(18) TRAP10(19) TRAP10(20)
TRAP10(21) TRAP10(22) TRAP(230) TRAP(231) TRAP(232) TRAP(233) TRAP(234) TRAP(235)
static const fn traps[236] = {
  SLOT10() SLOT10(1) SLOT10(2) SLOT10(3) SLOT10(4) SLOT10(5) SLOT10(6) SLOT10(7) SLOT10(8) SLOT10(9) SLOT10(10)
  SLOT10(11) SLOT10(12) SLOT10(13) SLOT10(14) SLOT10(15) SLOT10(16) SLOT10(17) SLOT10(18) SLOT10(19) SLOT10(20)
  SLOT10(21) SLOT10(22) SLOT(230) SLOT(231) SLOT(232) SLOT(233) SLOT(234) SLOT(235)
};

static void init_jni(void) {
  for (int i = 0; i < 236; i++) env_table[i] = traps[i];
  for (int i = 0; i < 3; i++) env_table[i] = NULL; /* reserved */
  /* Indices of the JNI specification's function table. */
  env_table[4] = (fn)GetVersion;
  env_table[6] = (fn)FindClass;
  env_table[10] = (fn)GetSuperclass;
  env_table[11] = (fn)IsAssignableFrom;
  env_table[13] = (fn)Throw;
  env_table[14] = (fn)ThrowNew;
  env_table[15] = (fn)ExceptionOccurred;
  env_table[16] = (fn)ExceptionDescribe;
  env_table[17] = (fn)ExceptionClear;
  env_table[18] = (fn)FatalError;
  env_table[19] = (fn)PushLocalFrame;
  env_table[20] = (fn)PopLocalFrame;
  env_table[21] = (fn)NewGlobalRef;
  env_table[22] = (fn)DeleteGlobalRef;
  env_table[23] = (fn)DeleteLocalRef;
  env_table[24] = (fn)IsSameObject;
  env_table[25] = (fn)NewLocalRef;
  env_table[26] = (fn)EnsureLocalCapacity;
  env_table[28] = (fn)NewObject;
  env_table[29] = (fn)NewObjectV;
  env_table[30] = (fn)NewObjectA;
  env_table[31] = (fn)GetObjectClass;
  env_table[32] = (fn)IsInstanceOf;
  env_table[33] = (fn)GetMethodID;
  env_table[34] = (fn)CallObjectMethod;
  env_table[35] = (fn)CallObjectMethodV;
  env_table[36] = (fn)CallObjectMethodA;
  env_table[113] = (fn)GetMethodID; /* GetStaticMethodID */
  env_table[114] = (fn)CallStaticObjectMethod;
  env_table[115] = (fn)CallStaticObjectMethodV;
  env_table[116] = (fn)CallStaticObjectMethodA;
  env_table[164] = (fn)GetStringLength;
  env_table[167] = (fn)NewStringUTF;
  env_table[168] = (fn)GetStringUTFLength;
  env_table[169] = (fn)GetStringUTFChars;
  env_table[170] = (fn)ReleaseStringUTFChars;
  env_table[171] = (fn)GetArrayLength;
  env_table[172] = (fn)NewObjectArray;
  env_table[173] = (fn)GetObjectArrayElement;
  env_table[174] = (fn)SetObjectArrayElement;
  env_table[176] = (fn)NewByteArray;
  env_table[184] = (fn)GetByteArrayElements;
  env_table[192] = (fn)ReleaseByteArrayElements;
  env_table[200] = (fn)GetByteArrayRegion;
  env_table[203] = (fn)GetIntArrayRegion;
  env_table[204] = (fn)GetLongArrayRegion;
  env_table[208] = (fn)SetByteArrayRegion;
  env_table[217] = (fn)MonitorEnter;
  env_table[218] = (fn)MonitorExit;
  env_table[219] = (fn)GetJavaVM;
  env_table[221] = (fn)GetStringUTFRegion;
  env_table[228] = (fn)ExceptionCheck;
  env_table[232] = (fn)GetObjectRefType;
  vm_table[4] = (fn)VmAttachCurrentThread;
  vm_table[5] = (fn)VmDetachCurrentThread;
  vm_table[6] = (fn)VmGetEnv;
  vm_table[7] = (fn)VmAttachCurrentThread; /* AttachCurrentThreadAsDaemon */
}

/* --- checks --- */
static int passed, failed;

static void check(int ok, const char *what, const char *detail) {
  if (ok) {
    passed++;
    dprintf(1, "ok - %s\n", what);
  } else {
    failed++;
    dprintf(1, "FAIL - %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  }
}

/* The pending exception's class (without the package) and message, then clears it; NULL when there is none. */
static const char *take_exception(const char **message) {
  struct obj *e = pending;
  pending = NULL;
  *message = "";
  if (!e) return NULL;
  if (e->kind == K_INSTANCE && e->nargs > 0) {
    struct obj *m = e->args[e->nargs - 1].l; /* (message) or (reason, message) */
    if (m && m->kind == K_STRING) *message = m->str;
  }
  const char *name = e->cls->name;
  const char *dollar = strchr(name, '$');
  const char *slash = name;
  for (const char *p = name; *p; p++)
    if (*p == '/') slash = p + 1;
  return dollar ? dollar + 1 : slash;
}

/* The `reason` of PoorQuality / InvalidState, "" otherwise. */
static const char *exception_reason(struct obj *e) {
  if (e && e->kind == K_INSTANCE && e->nargs == 2 && e->args[0].l && e->args[0].l->kind == K_STRING)
    return e->args[0].l->str;
  return "";
}

/* Expects the call just made to have thrown `cls` (a FacecheckException's nested class name, e.g. "InvalidInput"). */
static void expect_exception(const char *what, const char *cls, const char *reason) {
  struct obj *e = pending;
  const char *message;
  const char *got = take_exception(&message);
  char detail[512];
  snprintf(detail, sizeof detail, "expected %s%s%s, got %s (%s)", cls, reason ? "/" : "", reason ? reason : "",
           got ? got : "no exception", message);
  check(got && strcmp(got, cls) == 0 && (!reason || strcmp(exception_reason(e), reason) == 0), what, detail);
  if (got) dprintf(1, "     %s: %s\n", got, message);
}

static int expect_no_exception(const char *what) {
  const char *message;
  const char *got = take_exception(&message);
  char detail[512];
  snprintf(detail, sizeof detail, "threw %s: %s", got ? got : "", message);
  check(got == NULL, what, got ? detail : NULL);
  return got == NULL;
}

static struct obj *read_file(const char *path) {
  int fd = open(path, 0 /* O_RDONLY */);
  if (fd < 0) fail_fatal("cannot open %s", path);
  long size = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, 0);
  struct obj *bytes = new_bytes(NULL, (jsize)size);
  long done = 0;
  while (done < size) {
    ssize_t n = read(fd, bytes->bytes + done, (size_t)(size - done));
    if (n <= 0) fail_fatal("cannot read %s", path);
    done += n;
  }
  close(fd);
  return bytes;
}

static struct obj *fixture(const char *repo, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/crates/facecheck/tests/fixtures/%s", repo, name);
  return read_file(path);
}

static struct obj *frames_of(const char *repo, const char **names, int n) {
  struct obj *array = new_array(class_named("[B"), n, NULL);
  for (int i = 0; i < n; i++) array->elems[i] = fixture(repo, names[i]);
  return array;
}

/* A compact JWS: three base64url parts. */
static int is_jws(struct obj *s) {
  if (!s || s->kind != K_STRING) return 0;
  int dots = 0;
  for (const char *p = s->str; *p; p++) {
    if (*p == '.') dots++;
    else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return 0;
  }
  return dots == 2 && strlen(s->str) > 40;
}

static const char *str_arg(struct obj *o, int i) {
  if (!o || o->kind != K_INSTANCE || i >= o->nargs) return NULL;
  struct obj *s = o->args[i].l;
  return s && s->kind == K_STRING ? s->str : NULL;
}

/* --- the bridge's entry points --- */
typedef jint (*OnLoad)(void *vm, void *reserved);
typedef jobject (*ModelFileNames)(JNIEnvPtr, jobject);
typedef jlong (*Open)(JNIEnvPtr, jobject, jobject, jobject, jobject, jobject, jobject, jobject);
typedef void (*Close)(JNIEnvPtr, jobject, jlong);
typedef void (*Screen)(JNIEnvPtr, jobject, jlong, jobject);
typedef jobject (*Enroll)(JNIEnvPtr, jobject, jlong, jobject, jobject, jobject, jobject, jobject, jlong);
typedef jobject (*RegistrationStatement)(JNIEnvPtr, jobject, jlong, jobject, jobject, jlong);
typedef jobject (*ReviewRequest)(JNIEnvPtr, jobject, jlong, jobject, jobject);
typedef jobject (*ReadQrCode)(JNIEnvPtr, jobject, jobject);
typedef jobject (*CheckIn)(JNIEnvPtr, jobject, jlong, jobject, jobject, jlong, jobject);
typedef jobject (*HandleCall)(JNIEnvPtr, jobject, jlong);
typedef jobject (*ActiveChallenge)(JNIEnvPtr, jobject, jobject);
typedef jobject (*CheckInActive)(JNIEnvPtr, jobject, jlong, jobject, jobject, jlong, jobject, jobject, jobject);
typedef jobject (*Erase)(JNIEnvPtr, jobject, jlong, jobject, jobject);
typedef void (*Panic)(JNIEnvPtr, jobject);
typedef void (*PanicHoldingLock)(JNIEnvPtr, jobject, jlong);

static void *library;

static void *entry(const char *name, int required) {
  char symbol[160];
  snprintf(symbol, sizeof symbol, "Java_com_facecheck_%s", name);
  void *f = dlsym(library, symbol);
  if (!f && required) fail_fatal("%s is not exported", symbol);
  return f;
}

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[1], "full") != 0 && strcmp(argv[1], "smoke") != 0)) {
    dprintf(2, "usage: %s full|smoke LIB.so REPO WORKDIR\n", argv[0]);
    return 2;
  }
  int full = strcmp(argv[1], "full") == 0;
  const char *repo = argv[3], *work = argv[4];
  init_jni();

  library = dlopen(argv[2], RTLD_NOW);
  if (!library) fail_fatal("dlopen %s: %s", argv[2], dlerror());
  check(1, "dlopen() by bionic's linker, every symbol bound (RTLD_NOW)", NULL);
  OnLoad on_load = (OnLoad)dlsym(library, "JNI_OnLoad");
  if (on_load) {
    jint version = on_load(the_vm, NULL);
    check(version >= JNI_VERSION_1_6, "JNI_OnLoad returns JNI 1.6 or later", NULL);
  }
  jobject cls = class_named("com/facecheck/api/NativeBridge");
  ModelFileNames model_file_names = (ModelFileNames)entry("api_NativeBridge_modelFileNames", 1);
  Open open_engine = (Open)entry("api_NativeBridge_open", 1);
  Close close_engine = (Close)entry("api_NativeBridge_close", 1);
  Screen screen = (Screen)entry("api_NativeBridge_screen", 1);
  Enroll enroll = (Enroll)entry("api_NativeBridge_enroll", 1);
  CheckIn check_in = (CheckIn)entry("api_NativeBridge_checkIn", 1);
  HandleCall status = (HandleCall)entry("api_NativeBridge_status", 1);
  Erase erase = (Erase)entry("api_NativeBridge_erase", 1);
  RegistrationStatement registration_statement =
      (RegistrationStatement)entry("api_NativeBridge_registrationStatement", 1);
  ReviewRequest review_request = (ReviewRequest)entry("api_NativeBridge_reviewRequest", 1);
  ReadQrCode read_qr_code = (ReadQrCode)entry("api_NativeBridge_readQrCode", 1);
  HandleCall device_public_key = (HandleCall)entry("api_NativeBridge_devicePublicKey", 1);
  ActiveChallenge active_challenge = (ActiveChallenge)entry("api_NativeBridge_activeChallenge", 1);
  CheckInActive check_in_active = (CheckInActive)entry("api_NativeBridge_checkInActive", 1);
  Panic panic = (Panic)entry("hosttest_NativeTesting_panic", full);
  PanicHoldingLock panic_holding_lock = (PanicHoldingLock)entry("hosttest_NativeTesting_panicHoldingLock", full);
  if (!full) check(panic == NULL, "the shipped library has no test-only entry points", NULL);

  /* modelFileNames: the four model files, which exist in the repository. */
  jobject names = model_file_names(the_env, cls);
  struct obj *models[4] = {0};
  if (expect_no_exception("modelFileNames") && names && names->kind == K_ARRAY && names->len == 4) {
    for (int i = 0; i < 4; i++) {
      char path[1024];
      snprintf(path, sizeof path, "%s/models/%s", repo, names->elems[i]->str);
      models[i] = read_file(path);
    }
    check(1, "modelFileNames names 4 model files that exist", NULL);
  } else {
    fail_fatal("modelFileNames did not return 4 names");
  }

  char vault[1024];
  snprintf(vault, sizeof vault, "%s/facecheck.vault", work);
  unlink(vault);
  jbyte kek_bytes[32];
  for (int i = 0; i < 32; i++) kek_bytes[i] = (jbyte)(i * 7 + 1);

  /* A key of the wrong length is refused before anything is loaded. */
  jlong bad = open_engine(the_env, cls, models[0], models[1], models[2], models[3], new_string(vault),
                          new_bytes(kek_bytes, 31));
  expect_exception("open with a 31-byte key throws InvalidInput", "InvalidInput", NULL);
  check(bad == 0, "a failed open returns no handle", NULL);
  /* Closing a handle that never was is harmless. */
  close_engine(the_env, cls, 12345);
  expect_no_exception("close of an unknown handle does nothing");
  if (!full) goto done;

  jlong h = open_engine(the_env, cls, models[0], models[1], models[2], models[3], new_string(vault),
                        new_bytes(kek_bytes, 32));
  if (!expect_no_exception("open: models loaded and optimised, no vault yet") || h == 0) fail_fatal("no engine");

  struct obj *s = status(the_env, cls, h);
  expect_no_exception("status before enrollment");
  check(s && s->nargs == 12 && s->args[0].z == 0 && s->args[4].z == 0, "status: no vault, not enrolled", NULL);

  screen(the_env, cls, h, fixture(repo, "obama.jpg"));
  expect_no_exception("screen accepts a good selfie");
  screen(the_env, cls, h, fixture(repo, "truncated.jpg"));
  expect_exception("screen of a truncated JPEG throws InvalidInput", "InvalidInput", NULL);
  char blank[1024];
  snprintf(blank, sizeof blank, "%s/blank.png", work); /* written by test-bionic.sh: mid-grey, no face */
  screen(the_env, cls, h, read_file(blank));
  expect_exception("screen of a picture without a face throws NoFace", "NoFace", NULL);

  /* The dispatcher's enrollment QR code, read from a photo of it (no engine needed); a selfie holds none, a blurred
     photo of the code does not read, and another QR code is not an enrollment code. */
  struct obj *qr = read_qr_code(the_env, cls, fixture(repo, "enrollment_qr.jpg"));
  expect_no_exception("readQrCode of a photo of an enrollment code");
  check(qr && qr->kind == K_STRING && strncmp(qr->str, "facecheck-enroll:1?", 19) == 0,
        "readQrCode returns the enrollment payload", qr && qr->kind == K_STRING ? qr->str : "null");
  read_qr_code(the_env, cls, fixture(repo, "obama.jpg"));
  expect_exception("readQrCode of a selfie throws QrCodeNotRead/no_code", "QrCodeNotRead", "no_code");
  read_qr_code(the_env, cls, fixture(repo, "enrollment_qr_blurred.jpg"));
  expect_exception("readQrCode of a blurred code throws QrCodeNotRead/unreadable", "QrCodeNotRead", "unreadable");
  read_qr_code(the_env, cls, fixture(repo, "qr_not_enrollment.jpg"));
  expect_exception("readQrCode of another QR code throws QrCodeNotRead/not_enrollment", "QrCodeNotRead",
                   "not_enrollment");
  read_qr_code(the_env, cls, fixture(repo, "truncated.jpg"));
  expect_exception("readQrCode of a truncated JPEG throws InvalidInput", "InvalidInput", NULL);

  const char *one[] = {"obama.jpg"};
  enroll(the_env, cls, h, new_string("driver-7"), new_string("fleet-3"), frames_of(repo, one, 1), NULL, NULL, -1);
  expect_exception("enroll with 1 selfie throws InvalidInput", "InvalidInput", NULL);
  const char *selfies[] = {"obama.jpg", "obama1.jpg", "obama2.jpg"};
  /* With the dispatcher's enrollment code and the driver's consent, as the app enrolls against a fleet service. */
  struct obj *registration = enroll(the_env, cls, h, new_string("driver-7"), new_string("fleet-3"),
                                    frames_of(repo, selfies, 3), new_string("7K2M-9QXD-4RTV"), new_string("notice-v1"),
                                    1750000000);
  expect_no_exception("enroll from 3 selfies");
  check(is_jws(registration), "enroll returns a registration statement (JWS)", NULL);

  s = status(the_env, cls, h);
  expect_no_exception("status after enrollment");
  check(s && s->nargs == 12 && s->args[0].z == 1 && s->args[4].z == 1 && str_arg(s, 1) &&
            strcmp(str_arg(s, 1), "driver-7") == 0 && s->args[5].j > 1700000000,
        "status: enrolled, driver-7, enrolled_at set", NULL);

  struct obj *key = device_public_key(the_env, cls, h);
  expect_no_exception("devicePublicKey");
  check(key && key->kind == K_BYTES && key->len == 32, "devicePublicKey is 32 bytes (Ed25519)", NULL);
  struct obj *again = registration_statement(the_env, cls, h, new_string("7K2M-9QXD-4RTV"), new_string("notice-v1"),
                                             1750000000);
  expect_no_exception("registrationStatement");
  check(is_jws(again), "registrationStatement returns a JWS", NULL);

  const char *same[] = {"exif_orientation6.jpg"};
  struct obj *result = check_in(the_env, cls, h, new_string("nonce-bionic-1"), new_string("block-1"), -1,
                                frames_of(repo, same, 1));
  expect_no_exception("checkIn with the enrolled driver's photo");
  check(result && result->nargs == 9 && is_jws(result->args[0].l) && str_arg(result, 1) &&
            strcmp(str_arg(result, 1), "match") == 0 && result->args[6].j > 1700000000 && str_arg(result, 7) &&
            strcmp(str_arg(result, 7), "passive") == 0,
        "checkIn: outcome match, a signed token, issued_at set, liveness method passive", str_arg(result, 1));
  /* The active check-in: the poses from the nonce, then JPEG frames described by int[] shapes and long[] times
     (Facecheck.checkInActive's arrays): facing the camera, turned left, turned right, 400 ms apart. */
  struct obj *poses = active_challenge(the_env, cls, new_string("nonce-active-2"));
  expect_no_exception("activeChallenge");
  check(poses && poses->kind == K_ARRAY && poses->len == 2 && strcmp(poses->elems[0]->str, "left") == 0 &&
            strcmp(poses->elems[1]->str, "right") == 0,
        "activeChallenge(nonce-active-2) asks for left, then right", NULL);
  struct obj *turn = new_array(class_named("[B"), 3, NULL);
  const char *turn_names[] = {"frontal", "left", "right"};
  for (int i = 0; i < 3; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/android/host-tests/fixtures/head-turn/%s.jpg", repo, turn_names[i]);
    turn->elems[i] = read_file(path);
  }
  const jint shapes[12] = {0};
  const jlong times[3] = {1000, 1400, 1800};
  result = check_in_active(the_env, cls, h, new_string("nonce-active-2"), new_string("block-1"), -1, turn,
                           new_ints(shapes, 12), new_longs(times, 3));
  expect_no_exception("checkInActive with the enrolled driver's head turn");
  check(result && result->nargs == 9 && is_jws(result->args[0].l) && str_arg(result, 1) &&
            strcmp(str_arg(result, 1), "match") == 0 && str_arg(result, 7) && strcmp(str_arg(result, 7), "active") == 0 &&
            result->args[8].l == NULL,
        "checkInActive: outcome match, liveness method active, no active reason", str_arg(result, 1));
  const jint nv21_short[4] = {1, 640, 480, 0};
  check_in_active(the_env, cls, h, new_string("nonce-active-3"), new_string("block-1"), -1,
                  frames_of(repo, same, 1), new_ints(nv21_short, 4), new_longs(times, 1));
  expect_exception("checkInActive with a JPEG described as a 640x480 NV21 frame throws InvalidInput", "InvalidInput",
                   NULL);
  check_in_active(the_env, cls, h, new_string("nonce-active-3"), new_string("block-1"), -1, turn, new_ints(shapes, 8),
                  new_longs(times, 3));
  expect_exception("checkInActive with fewer shapes than frames throws InvalidInput", "InvalidInput", NULL);
  const char *other[] = {"biden.jpg"};
  result = check_in(the_env, cls, h, new_string("nonce-bionic-2"), new_string("block-1"), -1, frames_of(repo, other, 1));
  expect_no_exception("checkIn with another person");
  check(result && str_arg(result, 1) && strcmp(str_arg(result, 1), "no_match") == 0 && is_jws(result->args[0].l),
        "checkIn: outcome no_match, signed too", str_arg(result, 1));
  struct obj *request = review_request(the_env, cls, h, result ? result->args[0].l : NULL, new_string("no_match"));
  expect_no_exception("reviewRequest about the no_match check-in");
  check(is_jws(request), "reviewRequest returns a signed request (JWS)", NULL);
  review_request(the_env, cls, h, NULL, new_string("because"));
  expect_exception("reviewRequest with an unknown reason throws InvalidInput", "InvalidInput", NULL);
  check_in(the_env, cls, h, new_string("nonce-bionic-1"), new_string("block-1"), -1, frames_of(repo, same, 1));
  /* A replayed nonce is refused or signed as the server sees fit; only a crash or a non-typed error is wrong. */
  if (pending) {
    const char *message;
    const char *got = take_exception(&message);
    check(strcmp(got, "RuntimeException") != 0, "checkIn with a reused nonce: a typed result or exception", got);
  } else {
    check(1, "checkIn with a reused nonce: a typed result or exception", NULL);
  }

  /* The fleet has seen a higher counter from this key than the vault holds (a restored copy): nothing is signed. */
  check_in(the_env, cls, h, new_string("nonce-bionic-5"), new_string("block-1"), 1000000, frames_of(repo, same, 1));
  expect_exception("checkIn below the fleet's last counter throws VaultRolledBack", "VaultRolledBack", NULL);

  struct obj *receipt = erase(the_env, cls, h, new_string("nonce-bionic-3"), NULL);
  expect_exception("erase with a nonce but no block id throws InvalidInput", "InvalidInput", NULL);
  receipt = erase(the_env, cls, h, new_string("nonce-bionic-3"), new_string("block-1"));
  expect_no_exception("erase");
  check(is_jws(receipt), "erase returns a signed erasure receipt", NULL);
  s = status(the_env, cls, h);
  expect_no_exception("status after erasure");
  check(s && s->nargs == 12 && s->args[4].z == 0, "status: not enrolled after erasure", NULL);
  check_in(the_env, cls, h, new_string("nonce-bionic-4"), new_string("block-1"), -1, frames_of(repo, same, 1));
  expect_exception("checkIn after erasure throws InvalidState/erased", "InvalidState", "erased");

  /* Panics: caught in the library (LLVM libunwind unwinds through Rust frames on bionic) and thrown as Internal. */
  panic(the_env, cls);
  expect_exception("a panic in an entry point becomes FacecheckException.Internal", "Internal", NULL);
  panic_holding_lock(the_env, cls, h);
  expect_exception("a panic holding the engine's lock becomes Internal", "Internal", NULL);
  status(the_env, cls, h);
  expect_exception("the poisoned engine then throws Internal, and does not crash", "Internal", NULL);

  close_engine(the_env, cls, h);
  expect_no_exception("close");
  close_engine(the_env, cls, h);
  expect_no_exception("close again does nothing");
  status(the_env, cls, h);
  expect_exception("status after close throws InvalidState/closed", "InvalidState", "closed");
  unlink(vault);

done:
  check(unexpected_calls == 0, "no JNI function outside the driver's table was called", NULL);
  dprintf(1, "%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
