#!/usr/bin/env python3
"""Interop helper for facecheck-attest: an independent JOSE/Ed25519 implementation.

Uses PyJWT for the JWS layer and `cryptography` for Ed25519, so that tokens made by the Rust
crate are checked by code that shares nothing with it, and vice versa. Every subcommand prints
one JSON object on stdout; failures print a message on stderr and exit with status 1.

Subcommands:
  verify TOKEN PUBKEY_B64URL        verify an attestation; print {"header", "payload"}
  verify-registration TOKEN         verify a registration statement with the key in its jwk
                                    header and check kid = SHA-256(x); print {"header", "payload"}
  sign CLAIMS_JSON                  sign an attestation with a fresh key (iss is set to the
                                    key id); print {"token", "public_key", "kid"}
  sign-registration CLAIMS_JSON     sign a registration statement with a fresh key; print
                                    {"token", "public_key", "kid"}
  sign-alg ALG CLAIMS_JSON KID PUBKEY_B64URL
                                    make an attestation-shaped token with another algorithm:
                                    none, HS256 (HMAC keyed with the raw public key bytes: the
                                    key-confusion attack), HS256-b64 (keyed with the base64url
                                    text), RS256, ES256 (fresh keys); print {"token"}
"""

import base64
import hashlib
import json
import sys

try:
    import jwt
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
except ImportError as missing:  # pragma: no cover - reported to the Rust test
    sys.stderr.write(
        f"jose_interop.py needs PyJWT and cryptography "
        f"(pip install -r scripts/interop/requirements.txt): {missing}\n"
    )
    sys.exit(2)

ATTESTATION_TYPE = "fc-attestation+jwt"
REGISTRATION_TYPE = "fc-registration+jwt"
# Time, audience and issuer rules are the Rust crate's business; here only the JOSE layer and
# the signature are checked.
DECODE_OPTIONS = {
    "verify_signature": True,
    "verify_aud": False,
    "verify_iss": False,
    "verify_iat": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_sub": False,
    "verify_jti": False,
}


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: bytes) -> str:
    return b64url_encode(hashlib.sha256(public_key).digest())


def raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def check_signature_directly(token: str, public_key: Ed25519PublicKey) -> None:
    """Checks the Ed25519 signature with `cryptography` alone, independently of PyJWT."""
    signing_input, _, signature = token.rpartition(".")
    public_key.verify(b64url_decode(signature), signing_input.encode("ascii"))


def emit(obj) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")


def cmd_verify(token: str, public_key_b64: str) -> None:
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(public_key_b64))
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "EdDSA":
        raise ValueError("alg is not EdDSA")
    if header.get("kid") != key_id(b64url_decode(public_key_b64)):
        raise ValueError("kid is not the SHA-256 of the public key")
    check_signature_directly(token, public_key)
    payload = jwt.decode(token, public_key, algorithms=["EdDSA"], options=DECODE_OPTIONS)
    emit({"header": header, "payload": payload})


def cmd_verify_registration(token: str) -> None:
    header = jwt.get_unverified_header(token)
    if header.get("typ") != REGISTRATION_TYPE:
        raise ValueError("typ is not a registration")
    jwk = header["jwk"]
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("jwk is not an Ed25519 key")
    if header.get("kid") != key_id(b64url_decode(jwk["x"])):
        raise ValueError("kid is not the SHA-256 of the jwk public key")
    public_key = jwt.PyJWK(jwk, algorithm="EdDSA").key
    check_signature_directly(token, public_key)
    payload = jwt.decode(token, public_key, algorithms=["EdDSA"], options=DECODE_OPTIONS)
    emit({"header": header, "payload": payload})


def cmd_sign(claims_json: str) -> None:
    private_key = Ed25519PrivateKey.generate()
    public = raw_public(private_key)
    kid = key_id(public)
    claims = json.loads(claims_json)
    claims["iss"] = kid
    token = jwt.encode(
        claims, private_key, algorithm="EdDSA", headers={"kid": kid, "typ": ATTESTATION_TYPE}
    )
    emit({"token": token, "public_key": b64url_encode(public), "kid": kid})


def cmd_sign_registration(claims_json: str) -> None:
    private_key = Ed25519PrivateKey.generate()
    public = raw_public(private_key)
    kid = key_id(public)
    headers = {
        "kid": kid,
        "typ": REGISTRATION_TYPE,
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public)},
    }
    token = jwt.encode(json.loads(claims_json), private_key, algorithm="EdDSA", headers=headers)
    emit({"token": token, "public_key": b64url_encode(public), "kid": kid})


def cmd_sign_alg(alg: str, claims_json: str, kid: str, public_key_b64: str) -> None:
    claims = json.loads(claims_json)
    headers = {"kid": kid, "typ": ATTESTATION_TYPE}
    if alg == "none":
        token = jwt.encode(claims, None, algorithm="none", headers=headers)
    elif alg == "HS256":
        token = jwt.encode(claims, b64url_decode(public_key_b64), algorithm="HS256", headers=headers)
    elif alg == "HS256-b64":
        token = jwt.encode(claims, public_key_b64, algorithm="HS256", headers=headers)
    elif alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(claims, key, algorithm="RS256", headers=headers)
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
        token = jwt.encode(claims, key, algorithm="ES256", headers=headers)
    else:
        raise ValueError(f"unsupported alg for sign-alg: {alg}")
    emit({"token": token})


COMMANDS = {
    "verify": (cmd_verify, 2),
    "verify-registration": (cmd_verify_registration, 1),
    "sign": (cmd_sign, 1),
    "sign-registration": (cmd_sign_registration, 1),
    "sign-alg": (cmd_sign_alg, 4),
}


def main(argv) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        return 2
    command, arity = COMMANDS[argv[1]]
    if len(argv) - 2 != arity:
        sys.stderr.write(f"{argv[1]} takes {arity} argument(s)\n")
        return 2
    try:
        command(*argv[2:])
    except (jwt.PyJWTError, InvalidSignature, ValueError, KeyError, TypeError) as error:
        sys.stderr.write(f"{argv[1]} failed: {type(error).__name__}: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
