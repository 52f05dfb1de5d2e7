//! Enrollment codes: generation, the QR payload and its SVG.

use facecheck_attest::{normalize_code, CodeBinding};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::util;

/// Crockford base32, the alphabet of enrollment codes.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new code: 12 Crockford base32 characters (60 random bits) shown as `XXXX-XXXX-XXXX`.
pub fn generate() -> String {
    let bytes = util::random_bytes(12);
    let chars: Vec<char> = bytes.iter().map(|b| CROCKFORD[usize::from(b & 31)] as char).collect();
    format!(
        "{}-{}-{}",
        chars[0..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..12].iter().collect::<String>()
    )
}

/// Whether `code` reads as a well-formed code (12 Crockford characters once normalised).
pub fn is_well_formed(code: &str) -> bool {
    let normal = normalize_code(code);
    normal.len() == 12 && normal.bytes().all(|b| CROCKFORD.contains(&b))
}

/// What the database stores for a code: its binding, base64url(SHA-256("facecheck-enrollment-code:" + normalised)),
/// the same value the device puts in the registration statement's `enc` claim.
pub fn code_hash(code: &str) -> String {
    CodeBinding::of_code(code).as_str().to_owned()
}

/// The enrollment QR payload:
/// `facecheck-enroll:1?server=<url-encoded base URL>&fleet=<F>&driver=<D>&code=<CODE>&fk=<fleet key x>`.
pub fn qr_payload(server: &str, fleet: &str, driver: &str, code: &str, fleet_key_x: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "facecheck-enroll:1?server={}&fleet={}&driver={}&code={}&fk={}",
        enc(server),
        enc(fleet),
        enc(driver),
        enc(code),
        enc(fleet_key_x)
    )
}

/// The QR code of `payload` as an SVG document.
pub fn qr_svg(payload: &str) -> String {
    match QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M) {
        Ok(code) => code.render::<svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build(),
        // Only a payload over the QR capacity (thousands of bytes) fails; ids are limited far below that.
        Err(_) => String::new(),
    }
}

/// The QR code as a `data:` URL for an `<img>`.
pub fn qr_data_url(payload: &str) -> String {
    use base64::Engine as _;
    format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(qr_svg(payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
        assert!(is_well_formed(&a));
        assert!(is_well_formed(&a.to_lowercase().replace('-', "")));
        assert!(!is_well_formed("ABCD-EFGH-IJK"));
        assert!(!is_well_formed("ABCD-EFGH-IJKU"));
        assert_eq!(code_hash(&a), code_hash(&a.to_lowercase()));
        assert_eq!(code_hash("0000-1111-AAAA"), code_hash("oooo-iiLl-aaaa"));
    }

    #[test]
    fn qr_payload_encodes_its_parts() {
        let p = qr_payload("https://fleet.example/fc?x=1", "fleet 7", "d&1", "ABCD-EFGH-JKMN", "xx");
        assert_eq!(
            p,
            "facecheck-enroll:1?server=https%3A%2F%2Ffleet.example%2Ffc%3Fx%3D1&fleet=fleet+7&driver=d%261\
             &code=ABCD-EFGH-JKMN&fk=xx"
        );
        let svg = qr_svg(&p);
        assert!(svg.contains("<svg"));
        assert!(qr_data_url(&p).starts_with("data:image/svg+xml;base64,"));
    }
}
