"""HTTP Digest (RFC 7616, qop=auth) answers for Atlas programmatic API keys."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

__all__ = ["DigestChallenge", "parse_challenge"]

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES = {"MD5": "md5", "SHA-256": "sha256", "MD5-SESS": "md5", "SHA-256-SESS": "sha256"}


@dataclass(slots=True)
class DigestChallenge:
    """A server's Digest challenge and the nonce count used against it so far."""

    realm: str
    nonce: str
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: str | None = None
    count: int = field(default=0)

    def authorization(self, user: str, password: str, method: str, uri: str) -> str:
        """The Authorization header value for one request (the nonce count goes up by one)."""
        name = _HASHES[self.algorithm.upper()]

        def digest(text: str) -> str:
            return hashlib.new(name, text.encode()).hexdigest()

        self.count += 1
        nc = f"{self.count:08x}"
        cnonce = secrets.token_hex(8)
        ha1 = digest(f"{user}:{self.realm}:{password}")
        if self.algorithm.upper().endswith("-SESS"):
            ha1 = digest(f"{ha1}:{self.nonce}:{cnonce}")
        ha2 = digest(f"{method}:{uri}")
        if self.qop is None:
            response = digest(f"{ha1}:{self.nonce}:{ha2}")
        else:
            response = digest(f"{ha1}:{self.nonce}:{nc}:{cnonce}:{self.qop}:{ha2}")
        parts = [
            f'username="{user}"',
            f'realm="{self.realm}"',
            f'nonce="{self.nonce}"',
            f'uri="{uri}"',
            f'response="{response}"',
            f"algorithm={self.algorithm}",
        ]
        if self.opaque is not None:
            parts.append(f'opaque="{self.opaque}"')
        if self.qop is not None:
            parts += [f"qop={self.qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(parts)


def parse_challenge(header: str) -> DigestChallenge | None:
    """The Digest challenge in a WWW-Authenticate value, or None (another scheme, or unusable)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params = {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _PARAM.finditer(rest)}
    algorithm = params.get("algorithm", "MD5")
    if "realm" not in params or "nonce" not in params or algorithm.upper() not in _HASHES:
        return None
    offered = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if offered and "auth" not in offered:
        return None  # only qop=auth (no auth-int: it would hash the body)
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        opaque=params.get("opaque"),
        algorithm=algorithm,
        qop="auth" if offered else None,
    )
