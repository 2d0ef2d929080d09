"""The shared internal auth key of ASAB services: its format, validation and public half. Pure.

ASAB keeps one EC P-256 private JWK at /asab/auth/internal_auth_private.key (an
absolute path: it does not follow [zookeeper] path), written as
`json.dumps(JWK.generate(kty="EC", crv="P-256", kid=secrets.token_hex(16)).export(as_dict=True))`.
Nothing here ever puts key material into a message: problems and summaries name
the `kid` at most.
"""
from __future__ import annotations

import dataclasses
import json
import re
import secrets

import jwcrypto.jwk

KEY_PATH = "/asab/auth/internal_auth_private.key"
KID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
PRIVATE_FIELDS = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")


@dataclasses.dataclass(frozen=True)
class KeyCheck:
    valid: bool
    kid: str | None = None
    problem: str | None = None


def generate() -> bytes:
    """A new key, byte for byte as ASAB writes one."""
    key = jwcrypto.jwk.JWK.generate(kty="EC", crv="P-256", kid=secrets.token_hex(16))
    return json.dumps(key.export(as_dict=True)).encode("utf-8")


def check(data: bytes | None) -> KeyCheck:
    """Is this node's data a usable private EC P-256 JWK with a kid? Says why not, without the key."""
    if not data:
        return KeyCheck(False, problem="the node is empty")
    try:
        parsed = json.loads(data)
    except ValueError:
        return KeyCheck(False, problem="the node is not JSON")
    if not isinstance(parsed, dict):
        return KeyCheck(False, problem="the node's JSON is not an object")
    kid = parsed.get("kid") if isinstance(parsed.get("kid"), str) else None
    if parsed.get("kty") != "EC" or parsed.get("crv") != "P-256":
        return KeyCheck(False, kid, "not an EC P-256 key (kty must be EC, crv P-256)")
    if not kid:
        return KeyCheck(False, problem="the key has no kid: ASAB tokens name their key by kid")
    if "d" not in parsed:
        return KeyCheck(False, kid, "the key has no private part (d)")
    try:
        # Building the signing key checks the point is on the curve and matches d.
        jwcrypto.jwk.JWK(**parsed).get_op_key("sign")
    except Exception:   # jwcrypto's errors may quote the input: never pass them on
        return KeyCheck(False, kid, "the JWK does not load (a bad or inconsistent x, y or d)")
    return KeyCheck(True, kid)


def public_jwks(data: bytes) -> dict:
    """The public JWK set for verifying internal tokens: no private field, ever."""
    key = jwcrypto.jwk.JWK(**json.loads(data))
    public = key.export_public(as_dict=True)
    public.update(use="sig", alg="ES256")
    assert not set(public) & set(PRIVATE_FIELDS)
    return {"keys": [public]}


def kid_of(data: bytes | None) -> str | None:
    return check(data).kid
