//! Which Ed25519 public keys are acceptable at all.
//!
//! `ring` verifies Ed25519 signatures without the cofactor and without refusing small-order points. With a
//! small-order point as public key `A`, `[8]A` is the identity, so a signature whose `R` is a small-order point and
//! whose `S` is zero satisfies `[S]B = R + [k]A` for a good share of messages `k` (for the identity key, every
//! message): proof of possession would prove nothing and one forged signature would verify many statements. Such
//! keys, and encodings of the field element `y` that are not reduced modulo `p = 2^255 - 19`, are refused wherever a
//! public key enters this crate: a registration statement's `jwk`, registry entries, [`Registry::add`], every key a
//! [`DeviceKeys`] lookup returns, and the fleet key evidence is checked against.
//!
//! [`Registry::add`]: crate::Registry::add
//! [`DeviceKeys`]: crate::DeviceKeys

/// Why a public key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakKey {
    /// The encoded `y` coordinate is not below `p = 2^255 - 19` (a second encoding of a smaller value).
    #[error("public key is not a canonical Ed25519 point encoding")]
    NonCanonical,
    /// The point has order 1, 2, 4 or 8: it proves nothing about who signed.
    #[error("public key is a small-order Ed25519 point")]
    SmallOrder,
}

/// The `y` coordinates (little-endian, sign bit clear) of the eight points of order dividing 8: `1` (the identity,
/// order 1), `p - 1` (order 2), `0` (the two points of order 4) and the two values shared by the four points of
/// order 8, the two square roots of `y^2 = (-1 - sqrt(1 + d)) / d` (the points that double to `(±sqrt(-1), 0)`).
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
];

/// Checks that `key` is a canonical encoding of a point that is not of small order. (Whether it is on the curve at
/// all is `ring`'s to decide when it verifies: an encoding of no point verifies nothing.)
pub fn check_public_key(key: &[u8; 32]) -> Result<(), WeakKey> {
    let mut y = *key;
    y[31] &= 0x7f; // the sign bit of x
    if is_at_least_p(&y) {
        return Err(WeakKey::NonCanonical);
    }
    if SMALL_ORDER_Y.contains(&y) {
        return Err(WeakKey::SmallOrder);
    }
    Ok(())
}

/// Whether the 255-bit little-endian `y` is `p = 2^255 - 19` or more: `p` is `ed ff .. ff 7f`, so exactly the values
/// whose top 31 bytes are all ones (with bit 255 clear) and whose lowest byte is `0xed` or more.
fn is_at_least_p(y: &[u8; 32]) -> bool {
    y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed
}

const fn hex32(text: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let text = text.as_bytes();
    assert!(text.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight small-order points, each in its canonical encoding (sign bit as the point has it).
    pub(crate) fn small_order_points() -> Vec<[u8; 32]> {
        let mut points = vec![SMALL_ORDER_Y[0], SMALL_ORDER_Y[1]]; // x = 0: only the positive sign is canonical
        for y in &SMALL_ORDER_Y[2..] {
            let mut negative = *y;
            negative[31] |= 0x80;
            points.extend([*y, negative]);
        }
        points
    }

    #[test]
    fn refuses_each_small_order_point() {
        let points = small_order_points();
        assert_eq!(points.len(), 8);
        for point in points {
            assert_eq!(check_public_key(&point), Err(WeakKey::SmallOrder), "{point:02x?}");
        }
    }

    #[test]
    fn refuses_every_unreduced_encoding() {
        // y = p + k for k = 0..=18 (the 19 values in [p, 2^255)), with either sign bit.
        for k in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut y = [0xffu8; 32];
                y[0] = 0xed + k;
                y[31] = 0x7f | sign;
                assert_eq!(check_public_key(&y), Err(WeakKey::NonCanonical), "k = {k}");
            }
        }
    }

    #[test]
    fn accepts_real_keys_and_the_largest_reduced_y() {
        use ring::rand::SystemRandom;
        use ring::signature::{Ed25519KeyPair, KeyPair};
        for _ in 0..32 {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("generates");
            let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("loads");
            let key: [u8; 32] = pair.public_key().as_ref().try_into().expect("32 bytes");
            assert_eq!(check_public_key(&key), Ok(()));
        }
        let mut below_p = [0xffu8; 32];
        below_p[0] = 0xeb; // p - 2: canonical (whether it is a point is ring's question)
        below_p[31] = 0x7f;
        assert_eq!(check_public_key(&below_p), Ok(()));
    }

    #[test]
    fn ring_alone_would_accept_a_forgery_under_the_identity_key() {
        // Why the check exists: with A = identity and signature (R = identity, S = 0), ring verifies any message.
        use ring::signature::{UnparsedPublicKey, ED25519};
        let identity = SMALL_ORDER_Y[0];
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&identity);
        for message in [&b"check-in for someone else"[..], b"another statement", b""] {
            assert!(UnparsedPublicKey::new(&ED25519, identity).verify(message, &signature).is_ok());
        }
    }
}
