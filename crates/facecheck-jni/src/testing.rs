//! Test-only entry points (feature `testing`, built by `scripts/test-jvm.sh`, never shipped): they reach the failure
//! paths that the real API cannot, to prove that a panic becomes a Java exception and not a crash. Java side:
//! `android/host-tests/src/com/facecheck/hosttest/NativeTesting.java`.

use crate::error::{Result, ThrowFacecheck};
use crate::session;
use jni::objects::JClass;
use jni::sys::jlong;
use jni::EnvUnowned;

/// `static void panic()`: panics inside an entry point.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_hosttest_NativeTesting_panic<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) {
    env.with_env(|_env| -> Result<()> { panic!("test panic") }).resolve::<ThrowFacecheck>()
}

/// `static void panicHoldingLock(long handle)`: panics while holding the lock of an engine, poisoning it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_facecheck_hosttest_NativeTesting_panicHoldingLock<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    env.with_env(|_env| -> Result<()> {
        let session = session::get(handle)?;
        let _guard = session.lock()?;
        panic!("test panic while holding an engine's lock")
    })
    .resolve::<ThrowFacecheck>()
}
