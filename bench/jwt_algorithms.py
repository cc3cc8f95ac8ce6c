"""RS256 (RSA-2048) against EdDSA (Ed25519) with PyJWT + cryptography, as we use them:
sign (users, once per login/refresh) and verify (every service, every request).

Also argon2id at our parameters, the other cost of a login. Figures go to
docs/decisions/0011-users-jwt-rs256.md.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

ROUNDS, REPEATS = 300, 5


def _per_op_us(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """The median over REPEATS runs of the mean time of one call, in microseconds."""
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(rounds):
            fn()
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(runs)


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {"iss": "flotilla-users", "aud": "flotilla", "sub": str(uuid.uuid4()), "iat": now,
            "exp": now + 900, "jti": uuid.uuid4().hex, "roles": ["customer"], "email": "a@b.org"}


def main() -> dict[str, Any]:
    claims = _claims()
    rows = []
    for alg, key in (("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                     ("EdDSA", ed25519.Ed25519PrivateKey.generate())):
        public = key.public_key()
        token = jwt.encode(claims, key, algorithm=alg, headers={"kid": "k"})
        sign = _per_op_us(lambda k=key, a=alg: jwt.encode(claims, k, algorithm=a, headers={"kid": "k"}))
        verify = _per_op_us(lambda p=public, a=alg, t=token: jwt.decode(
            t, p, algorithms=[a], audience="flotilla", issuer="flotilla-users"))
        rows.append((alg, sign, verify, len(token)))
    print(f"{'algorithm':<10}{'sign µs':>10}{'verify µs':>12}{'token bytes':>14}")
    for alg, sign, verify, size in rows:
        print(f"{alg:<10}{sign:>10.1f}{verify:>12.1f}{size:>14}")
    (_, rs_sign, rs_verify, _), (_, ed_sign, ed_verify, _) = rows
    print(f"EdDSA/RS256: sign x{ed_sign / rs_sign:.2f}, verify x{ed_verify / rs_verify:.2f}")
    hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID)
    stored = hasher.hash("correct horse battery")
    verify_ms = _per_op_us(lambda: hasher.verify(stored, "correct horse battery"), 10) / 1000
    print(f"argon2id m=19456 t=2 p=1 verify: {verify_ms:.1f} ms")
    return {"argon2id_verify_ms": round(verify_ms, 2),
            **{alg: {"sign_us": round(sign, 1), "verify_us": round(verify, 1), "token_bytes": size}
               for alg, sign, verify, size in rows}}


if __name__ == "__main__":
    main()
