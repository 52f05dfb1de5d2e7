//! The enrollment QR code read through the public API from the committed photos, the same files that the JVM tests
//! (`android/host-tests`) and the bionic driver (`android/bionic/jni-driver.c`) read through the bridge.

use facecheck::qr::{read_qr_code, ENROLLMENT_PREFIX};
use facecheck::Error;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

#[test]
fn the_photo_of_an_enrollment_code_reads_to_its_payload() {
    let payload = read_qr_code(&fixture("enrollment_qr.jpg")).expect("reads");
    assert!(payload.starts_with(ENROLLMENT_PREFIX));
    assert!(payload.contains("&code=7K2M-9QXD-4RTV&"));
}

#[test]
fn each_picture_that_gives_no_enrollment_code_says_why() {
    assert!(matches!(read_qr_code(&fixture("obama.jpg")), Err(Error::QrCodeNotFound)));
    assert!(matches!(read_qr_code(&fixture("enrollment_qr_blurred.jpg")), Err(Error::QrCodeUnreadable)));
    assert!(matches!(read_qr_code(&fixture("qr_not_enrollment.jpg")), Err(Error::NotEnrollmentCode(_))));
    assert!(matches!(read_qr_code(&fixture("empty.jpg")), Err(Error::InvalidImage(_))));
    assert!(matches!(read_qr_code(&fixture("too_many_pixels.png")), Err(Error::ImageTooLarge { .. })));
}

#[test]
fn the_errors_say_what_to_do_and_nothing_of_the_picture() {
    let unreadable = read_qr_code(&fixture("enrollment_qr_blurred.jpg")).expect_err("unreadable").to_string();
    assert!(unreadable.contains("could not be read"), "{unreadable}");
    let other = read_qr_code(&fixture("qr_not_enrollment.jpg")).expect_err("not an enrollment").to_string();
    assert!(!other.contains("example.org"), "the error quotes the code: {other}");
}
