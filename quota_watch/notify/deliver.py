"""Delivery through apprise (imported lazily: it is heavy); URL secrets scrubbed from errors."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Literal
from urllib.parse import parse_qsl, unquote

from quota_watch.notify.emailbody import email_html, is_email_url

__all__ = ["BodyFormat", "NotifyType", "scrub", "send", "validate_url"]

BodyFormat = Literal["text", "markdown"]
NotifyType = Literal["info", "success", "warning", "failure"]

_APPRISE_LOGGER = "apprise"
_MAX_ERROR = 500
_MASK = "***"
# Parts of a URL that are never secret and make error text readable.
_HOSTNAME = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+$|^\[[0-9A-Fa-f:.]+\]$|^localhost$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_PUBLIC_QUERY_KEYS = frozenset(
    {"format", "overflow", "mode", "method", "secure", "verify", "smtp", "cto", "rto"}
)
_SHORT_SECRET = 6
_apprise_lock = threading.Lock()
_apprise_module: ModuleType | None = None


def _apprise() -> ModuleType:
    """Import apprise once; keep its own log records out of the application's log handlers."""
    global _apprise_module
    with _apprise_lock:
        if _apprise_module is None:
            import apprise

            # apprise logs recipients and hosts at INFO, and its records reach us scrubbed
            # through the captured error text instead; WARNING keeps failures recordable
            # whatever the root level is.
            apprise_logger = logging.getLogger(_APPRISE_LOGGER)
            apprise_logger.propagate = False
            apprise_logger.setLevel(logging.WARNING)
            # apprise posts through requests: urllib3's DEBUG lines carry webhook paths, which
            # often hold the token. Nothing else in quota-watch uses urllib3.
            logging.getLogger("urllib3").setLevel(logging.WARNING)
            _apprise_module = apprise
        return _apprise_module


def _secret_parts(url: str) -> set[str]:
    """Every piece of `url` that may be a credential: userinfo, path, query values, odd hosts."""
    parts = _url_parts(url)
    # apprise accepts several URLs in one string, separated by commas or spaces.
    for piece in re.split(r"[\s,]+", url):
        if "://" in piece and piece != url:
            parts |= _url_parts(piece)
    parts |= {unquote(p) for p in parts}
    return {p for p in parts if p.strip()}


def _url_parts(url: str) -> set[str]:
    parts = {url}
    _, _, rest = url.partition("://")
    rest, _, fragment = rest.partition("#")
    before_query, _, query = rest.partition("?")
    netloc, _, path = before_query.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        parts.add(userinfo)
        parts.update(userinfo.split(":"))
    for piece in _split_hostport(hostport):
        if not (_HOSTNAME.match(piece) or _PORT.match(piece)):
            parts.add(piece)
    parts.update(path.split("/"))
    parts.update(
        value
        for key, value in parse_qsl(query, keep_blank_values=True)
        if key.lower() not in _PUBLIC_QUERY_KEYS
    )
    parts.add(fragment)
    return parts


def _split_hostport(hostport: str) -> list[str]:
    if hostport.startswith("["):
        host, _, port = hostport.partition("]")
        return [host + "]", port.lstrip(":")]
    return hostport.split(":")


def scrub(text: str, url: str) -> str:
    """`text` with the URL and every possibly secret part of it replaced by ***."""
    for part in sorted(_secret_parts(url), key=len, reverse=True):
        if len(part) >= _SHORT_SECRET:
            text = text.replace(part, _MASK)
        else:
            # A short part ("p", "abc") would mangle ordinary words: replace it only standalone.
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(part)}(?![A-Za-z0-9])", _MASK, text)
    return text


def _summary(messages: list[str], url: str, fallback: str) -> str:
    unique = list(dict.fromkeys(m.strip() for m in messages if m.strip()))
    text = scrub("; ".join(unique) or fallback, url)
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


class _ThreadCapture(logging.Handler):
    """Collects the apprise logger's WARNING+ records emitted by one thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def _captured() -> Iterator[_ThreadCapture]:
    handler = _ThreadCapture()
    logger = logging.getLogger(_APPRISE_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _validate_sync(url: str) -> str | None:
    apprise = _apprise()
    with _captured() as capture:
        try:
            accepted = apprise.Apprise().add(url)
        except Exception as exc:  # a plugin bug must read as "unusable URL", not crash the check
            capture.messages.append(f"{type(exc).__name__}: {exc}")
            accepted = False
    if accepted:
        return None
    return _summary(capture.messages, url, "apprise does not recognise this URL")


#: Set by the daemon: check URLs in a child process while apprise is not loaded here, so a
#: configured notifier costs apprise's ~26 MB (with requests) only once something is sent.
VALIDATE_OUT_OF_PROCESS = False
_CHILD_CHECK = (
    "import sys\n"
    "from quota_watch.notify.deliver import _validate_sync\n"
    "sys.stdout.write(_validate_sync(sys.stdin.read()) or '')\n"
)


def _validate_in_child(url: str) -> str | None:
    # The URL holds secrets: it goes through stdin, never argv or the environment.
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD_CHECK],
            input=url,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return _validate_sync(url)
    if done.returncode != 0:
        return _validate_sync(url)  # e.g. no interpreter to spare: check here after all
    return done.stdout or None


def validate_url(url: str) -> str | None:
    """None when apprise can use `url`; else why not, without the URL or any part of it."""
    if not url.strip():
        return "the URL is empty"
    if VALIDATE_OUT_OF_PROCESS and _apprise_module is None:
        return _validate_in_child(url)
    return _validate_sync(url)


def _send_sync(
    url: str,
    title: str,
    body: str,
    body_format: BodyFormat,
    notify_type: NotifyType,
    timeout: float,
) -> tuple[bool, str | None]:
    apprise = _apprise()
    with _captured() as capture:
        client = apprise.Apprise()
        if not client.add(url):
            return False, _summary(
                capture.messages, url, "apprise does not recognise the notifier URL"
            )
    sent_format: str = body_format
    if body_format == "markdown" and is_email_url(url):
        body, sent_format = email_html(body), "html"
    with client.notify(
        body=body, title=title, body_format=sent_format, notify_type=notify_type, timeout=timeout
    ) as result:
        if result:
            return True, None
        messages = [entry.message for entry in result.logs()]
        status = result.status.name.lower()
    return False, _summary(messages, url, f"delivery failed ({status})")


async def send(
    url: str,
    title: str,
    body: str,
    body_format: BodyFormat,
    *,
    notify_type: NotifyType = "info",
    time_limit: float = 60.0,
) -> tuple[bool, str | None]:
    """Deliver one message; (True, None) on success, else (False, scrubbed reason). Never raises."""
    try:
        return await asyncio.to_thread(
            _send_sync, url, title, body, body_format, notify_type, time_limit
        )
    except Exception as exc:  # delivery must never take the outbox worker down
        return False, _summary([f"{type(exc).__name__}: {exc}"], url, "delivery failed")
