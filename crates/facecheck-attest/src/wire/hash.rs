//! Statement hashes: how one signed statement is named by another (a review request naming the check-in it is
//! about, the fleet's evidence naming the statement it answers).

use ring::digest::{digest, SHA256};

use super::b64;

/// Length in characters of every statement hash.
pub const STATEMENT_HASH_LEN: usize = 43;

/// The hash of a compact token: unpadded base64url of the SHA-256 of its exact bytes, 43 characters.
pub fn statement_hash(token: impl AsRef<[u8]>) -> String {
    b64::encode(digest(&SHA256, token.as_ref()).as_ref())
}

/// Whether `text` has the form of a statement hash (43 characters of canonical base64url of 32 bytes).
pub fn is_statement_hash(text: &str) -> bool {
    text.len() == STATEMENT_HASH_LEN && b64::decode_array::<32>(text.as_bytes()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_form() {
        // base64url(SHA-256("abc")), computed independently.
        assert_eq!(statement_hash("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert!(is_statement_hash(&statement_hash("x.y.z")));
        assert!(!is_statement_hash("short"));
        assert!(!is_statement_hash(&format!("{}B", "A".repeat(42))));
    }
}
