//! Unpadded base64url (RFC 4648 §5), the only encoding JWS compact serialization uses.
//!
//! Decoding is canonical: padding, whitespace, characters outside the URL-safe alphabet and
//! non-zero trailing bits are all rejected, so each byte string has exactly one accepted
//! encoding and no byte of a token can change without changing what it decodes to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Encodes `bytes` as unpadded base64url.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes canonical unpadded base64url; `None` for anything else.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes canonical unpadded base64url of exactly `N` bytes.
pub(crate) fn decode_array<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    decode(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_canonical() {
        let bytes = [0xfbu8, 0xff, 0x00, 0x10];
        let text = encode(&bytes);
        assert_eq!(text, "-_8AEA");
        assert_eq!(decode(text.as_bytes()).as_deref(), Some(&bytes[..]));
        // Padding, the standard alphabet and non-zero trailing bits are refused.
        assert_eq!(decode(b"-_8AEA=="), None);
        assert_eq!(decode(b"+/8AEA"), None);
        assert_eq!(decode(b"-_8AEB"), None);
        assert_eq!(decode(b"-_8A EA"), None);
    }

    #[test]
    fn fixed_length_decoding() {
        assert_eq!(decode_array::<2>(b"AAA"), Some([0, 0]));
        assert_eq!(decode_array::<3>(b"AAA"), None);
    }
}
