"""Basic auth (bcrypt hashes) and TLS checks for the HTTP server, like Prometheus' web config."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import re
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import SecretStr

#: bcrypt's modular-crypt form: $2a$/$2b$/$2y$ (htpasswd writes 2y), cost 04-31, 53 characters.
BCRYPT_HASH = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
REALM = "quota-watch"
CHALLENGE = f'Basic realm="{REALM}"'
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt>=5: rejects) anything longer
DEFAULT_COST = 12
_CACHE_SIZE = 256
#: A client whose password failed this many times within FAILURE_WINDOW seconds is refused
#: without a bcrypt check until the window has passed (credentials already verified still work).
MAX_FAILURES = 5
FAILURE_WINDOW = 60.0
#: Checks waiting for the bcrypt thread beyond this are refused at once, so a flood of bad
#: passwords cannot push a valid login past Prometheus' 10 s scrape timeout.
MAX_WAITING = 4
_MAX_CLIENTS = 4096


def check_hash(value: SecretStr) -> SecretStr:
    """Pydantic validator: `value` is a bcrypt hash (the message never shows it)."""
    if not BCRYPT_HASH.match(value.get_secret_value()):
        raise ValueError(
            "not a bcrypt hash ($2b$<cost>$ + 53 characters); "
            "make one with `quota-watch config hash-password` or `htpasswd -nBC 12 user`"
        )
    return value


def check_user_name(name: str) -> str | None:
    """Why `name` cannot be a basic-auth user name, or None when it can."""
    if not name:
        return "a user name must not be empty"
    if ":" in name:
        return f"user name {name!r} contains ':' (basic auth separates user and password by it)"
    if not name.isprintable():
        return f"user name {name!r} contains control characters"
    return None


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    """The bcrypt hash ($2b$) of `password`; ValueError when it is empty or too long."""
    raw = password.encode()
    if not raw:
        raise ValueError("the password is empty")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"the password is longer than bcrypt's {MAX_PASSWORD_BYTES} bytes")
    import bcrypt  # loaded where a hash is made or checked, not by every config load

    return bcrypt.hashpw(raw, bcrypt.gensalt(cost)).decode()


def is_loopback(host: str) -> bool:
    """Whether a listen host only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it resolves to a reachable address


def _credentials(header: str) -> tuple[str, str] | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, ValueError):  # also non-ASCII tokens and non-UTF-8 credentials
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class BasicAuth:
    """Checks Authorization headers against the configured users, read anew at each request.

    bcrypt is slow on purpose (~0.25 s at cost 12 on a small VM), and Prometheus sends the same
    credentials every scrape, so successful checks are remembered by a SHA-256 of user, hash and
    password (a changed hash or password misses the cache); failures are always recomputed.
    Checks run one at a time in a worker thread, so a flood of bad passwords costs one core at
    most and never blocks the event loop.
    """

    def __init__(
        self,
        users: Callable[[], Mapping[str, SecretStr]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = users
        self._clock = clock
        self._verified: set[bytes] = set()
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._failures: dict[str, list[float]] = {}  # client -> times of recent failures
        self._dummies: dict[bytes, bytes] = {}  # cost -> a hash of a random password

    @property
    def enabled(self) -> bool:
        """Whether any user is configured (else every request is let through)."""
        return bool(self._users())

    async def allows(self, authorization: str | None, client: str | None = None) -> bool:
        """Whether the request's Authorization header names a user and their password;
        `client` (the peer address) is what failed attempts are counted against."""
        users = self._users()
        if not users:
            return True
        creds = _credentials(authorization) if authorization else None
        if creds is None:
            return False
        user, password = creds
        known = users.get(user)
        hashed = known.get_secret_value().encode() if known is not None else None
        key = hashlib.sha256(b"\0".join((user.encode(), hashed or b"", password.encode())))
        if hashed is not None and key.digest() in self._verified:
            return True
        who = client or "?"
        if self._blocked(who) or self._waiting >= MAX_WAITING:
            return False
        self._waiting += 1
        try:
            async with self._lock:
                # An unknown user is checked against a hash of the highest configured cost,
                # so timing does not tell whether a user exists.
                against = hashed or await self._dummy(users)
                ok = await asyncio.to_thread(_checkpw, password.encode(), against)
        finally:
            self._waiting -= 1
        if not (ok and hashed is not None):
            self._failed(who)
            return False
        if len(self._verified) >= _CACHE_SIZE:
            self._verified.clear()
        self._verified.add(key.digest())
        return True

    def _blocked(self, client: str) -> bool:
        recent = [t for t in self._failures.get(client, ()) if self._clock() - t < FAILURE_WINDOW]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return len(recent) >= MAX_FAILURES

    def _failed(self, client: str) -> None:
        if len(self._failures) >= _MAX_CLIENTS and client not in self._failures:
            self._failures.clear()
        self._failures.setdefault(client, []).append(self._clock())

    async def _dummy(self, users: Mapping[str, SecretStr]) -> bytes:
        cost = max(_cost(h.get_secret_value().encode()) for h in users.values())
        if cost not in self._dummies:
            import bcrypt

            password = secrets.token_bytes(16)
            salt = bcrypt.gensalt(int(cost))
            self._dummies[cost] = await asyncio.to_thread(bcrypt.hashpw, password, salt)
        return self._dummies[cost]


def _cost(hashed: bytes) -> bytes:
    """The two-digit cost field of a bcrypt hash ($2b$12$...)."""
    return hashed[4:6]


def _checkpw(password: bytes, hashed: bytes) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # e.g. a password over 72 bytes (bcrypt>=5)
        return False


def check_readable(path: Path) -> Path:
    """Pydantic validator: `path` is a readable file (checked when the config is loaded)."""
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        # No path in the message: the TOML path names the setting, and the error formatter masks
        # values under names containing "key" (tls_key_file).
        raise ValueError(f"cannot read the file: {exc.strerror or exc}") from None
    return path


def check_tls_pair(cert: Path, key: Path) -> None:
    """ValueError unless `key` is the unencrypted PEM private key of the PEM chain `cert`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # The password callback keeps OpenSSL from prompting on the terminal for an encrypted key.
        context.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as exc:
        detail = f" ({exc.reason})" if exc.reason else ""
        raise ValueError(
            f"not the unencrypted PEM private key of tls_cert_file, or tls_cert_file is not a "
            f"PEM certificate{detail}"
        ) from None


def check_ca_bundle(path: Path) -> None:
    """ValueError unless `path` holds PEM CA certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        detail = f" ({exc.reason})" if exc.reason else ""
        raise ValueError(f"no PEM CA certificate in {path}{detail}") from None
