"""TokenVerifier: good tokens become a Caller; every forgery and mismatch is InvalidToken."""

from __future__ import annotations

import time
import uuid

import pytest
from jwt import PyJWK

from flotilla.auth import Caller, ExpiredToken, InvalidToken, KeySource, TokenVerifier, UnknownKey
from flotilla.testing.tokens import TokenMinter, hmac_with_public_key, tampered, unsigned_token


class CountingKeys(KeySource):
    """A fake key source: the minter's keys, counting look-ups."""

    def __init__(self, minter: TokenMinter) -> None:
        self.inner = minter.key_source()
        self.lookups: list[str] = []

    def key_for(self, kid: str) -> PyJWK:
        self.lookups.append(kid)
        return self.inner.key_for(kid)


@pytest.fixture(scope="module")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def keys(minter: TokenMinter) -> CountingKeys:
    return CountingKeys(minter)


@pytest.fixture
def verifier(keys: CountingKeys, minter: TokenMinter) -> TokenVerifier:
    return TokenVerifier(keys, issuer=minter.issuer, audience=minter.audience, leeway=0)


def test_a_good_token_gives_the_caller(verifier, minter):
    uid = uuid.uuid4()
    caller = verifier.verify(minter.mint(uid, ["admin", "customer"], email="a@b.org"))
    assert caller == Caller(user_id=uid, roles=frozenset({"admin", "customer"}), email="a@b.org",
                            token_id=caller.token_id, issued_at=caller.issued_at)
    assert caller.issued_at is not None and abs(caller.issued_at - time.time()) < 60
    assert caller.is_admin and caller.has_role("customer")


def _forgeries(minter: TokenMinter) -> dict[str, str]:
    claims = minter.claims()
    now = int(time.time())
    other = TokenMinter(kid=minter.kid)  # same kid, different key
    return {
        "alg none": unsigned_token(claims, minter.kid),
        "HS256 keyed with the public key": hmac_with_public_key(claims, minter.kid, minter.public_pem()),
        "expired": minter.sign({**claims, "iat": now - 1000, "exp": now - 10}),
        "wrong aud": minter.sign({**claims, "aud": "someone-else"}),
        "wrong iss": minter.sign({**claims, "iss": "https://evil.example"}),
        "no exp": minter.sign({k: v for k, v in claims.items() if k != "exp"}),
        "no sub": minter.sign({k: v for k, v in claims.items() if k != "sub"}),
        "no jti": minter.sign({k: v for k, v in claims.items() if k != "jti"}),
        "tampered": tampered(minter.sign(claims)),
        "signed by another key": other.sign(claims),
        "unknown kid": minter.sign(claims, headers={"kid": "nobody"}),
        "no kid": minter.sign(claims, headers={"kid": ""}),
        "sub not a uuid": minter.sign({**claims, "sub": "42"}),
        "roles not a list": minter.sign({**claims, "roles": "admin"}),
        "not yet valid": minter.sign({**claims, "nbf": now + 600}),
        "garbage": "not-a-token",
    }


def test_every_forgery_is_refused(verifier, minter):
    for name, token in _forgeries(minter).items():
        with pytest.raises(InvalidToken):
            verifier.verify(token)
            pytest.fail(f"accepted: {name}")


def test_an_expired_token_says_so(verifier, minter):
    now = int(time.time())
    with pytest.raises(ExpiredToken):
        verifier.verify(minter.sign({**minter.claims(), "iat": now - 100, "exp": now - 1}))


def test_refused_algorithms_never_reach_the_key_source(verifier, keys, minter):
    with pytest.raises(InvalidToken):
        verifier.verify(unsigned_token(minter.claims(), minter.kid))
    with pytest.raises(InvalidToken):
        verifier.verify(hmac_with_public_key(minter.claims(), minter.kid, minter.public_pem()))
    assert keys.lookups == []


def test_leeway_tolerates_small_clock_skew(keys, minter):
    lenient = TokenVerifier(keys, issuer=minter.issuer, audience=minter.audience, leeway=30)
    now = int(time.time())
    assert lenient.verify(minter.sign({**minter.claims(), "exp": now - 5}))


def test_a_static_source_knows_only_its_keys(minter):
    source = minter.key_source()
    assert source.key_for(minter.kid).key_type == "RSA"
    with pytest.raises(UnknownKey):
        source.key_for("other")


class RetiringKeys(CountingKeys):
    """The minter's keys, until ``retired`` is set."""

    retired = False

    def key_for(self, kid: str) -> PyJWK:
        if self.retired:
            raise UnknownKey(kid)
        return super().key_for(kid)


def test_a_verified_token_is_remembered_until_its_key_is_retired(minter, monkeypatch):
    import jwt

    keys = RetiringKeys(minter)
    verifier = TokenVerifier(keys, issuer=minter.issuer, audience=minter.audience)
    token = minter.mint()
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    first, second = verifier.verify(token), verifier.verify(token)
    assert first == second and len(decodes) == 1  # the second came from the cache
    keys.retired = True
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)


def test_a_remembered_token_still_expires(minter):
    verifier = TokenVerifier(minter.key_source(), issuer=minter.issuer, audience=minter.audience, leeway=0)
    claims = {**minter.claims(), "exp": int(time.time()) + 1}
    token = minter.sign(claims)
    verifier.verify(token)
    from flotilla.testing import wait_for

    wait_for(lambda: time.time() > claims["exp"], timeout=5, interval=0.05, what="the token's exp")
    with pytest.raises(ExpiredToken):
        verifier.verify(token)
