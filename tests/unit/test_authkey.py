import json

import jwcrypto.jwk
import jwcrypto.jwt
import pytest

from asab_operator import authkey


def test_generated_key_is_in_asabs_exact_format():
    data = authkey.generate()
    parsed = json.loads(data)
    assert list(parsed) == ["kty", "kid", "crv", "x", "y", "d"]     # as ASAB's json.dumps(export(as_dict))
    assert parsed["kty"] == "EC" and parsed["crv"] == "P-256"
    assert authkey.KID_PATTERN.match(parsed["kid"])
    assert data == json.dumps(parsed).encode()
    assert authkey.check(data) == authkey.KeyCheck(True, parsed["kid"])
    assert authkey.generate() != data


def test_public_set_has_no_private_field_and_verifies_tokens():
    data = authkey.generate()
    jwks = authkey.public_jwks(data)
    (public,) = jwks["keys"]
    assert not set(public) & set(authkey.PRIVATE_FIELDS)
    assert public["kid"] == json.loads(data)["kid"] and public["alg"] == "ES256"
    private = jwcrypto.jwk.JWK(**json.loads(data))
    token = jwcrypto.jwt.JWT(header={"alg": "ES256", "kid": public["kid"]}, claims={"sub": "x"})
    token.make_signed_token(private)
    verified = jwcrypto.jwt.JWT(jwt=token.serialize(), key=jwcrypto.jwk.JWKSet.from_json(json.dumps(jwks)))
    assert json.loads(verified.claims) == {"sub": "x"}


def key_without(field):
    parsed = json.loads(authkey.generate())
    del parsed[field]
    return json.dumps(parsed).encode()


def key_with(**changes):
    parsed = json.loads(authkey.generate())
    parsed.update(changes)
    return json.dumps(parsed).encode()


RSA = json.dumps(jwcrypto.jwk.JWK.generate(kty="RSA", size=2048, kid="a" * 32).export(as_dict=True)).encode()


@pytest.mark.parametrize("data, problem", [
    (b"", "empty"),
    (None, "empty"),
    (b"not json", "not JSON"),
    (b"[1, 2]", "not an object"),
    (b'"key"', "not an object"),
    (RSA, "not an EC P-256"),
    (key_with(crv="P-384"), "not an EC P-256"),
    (key_without("kid"), "no kid"),
    (key_without("d"), "no private part"),
    (key_with(x="AAAA"), "does not load"),
    (key_with(d="!!notbase64!!"), "does not load"),
])
def test_invalid_keys_are_named_without_key_material(data, problem):
    found = authkey.check(data)
    assert not found.valid and problem in found.problem
    if data and data.startswith(b"{"):
        secret = json.loads(data).get("d")
        if secret:
            assert secret not in found.problem
