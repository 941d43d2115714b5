"""A stable id per delivery, the same on every retry, so receivers can drop repeats."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote

from quota_watch.model import OutboxMessage

#: How the id travels, by apprise URL scheme: a JSON payload field, or a mail header (apprise
#: writes its own Message-ID, so a second one cannot be set).
_CARRIERS = {
    "json": ":message_id",
    "jsons": ":message_id",
    "mailto": "+X-Quota-Watch-Message-Id",
    "mailtos": "+X-Quota-Watch-Message-Id",
}


def message_id(messages: Sequence[OutboxMessage]) -> str:
    """The id of one delivery covering `messages` (a digest covers several): derived from the
    outbox rows, so every retry of the same delivery carries the same id."""
    parts = sorted(f"{m.id}|{m.notifier}|{m.created_at.isoformat()}" for m in messages)
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    return f"qw-{digest}"


def with_message_id(url: str, ident: str) -> str:
    """`url` with `ident` added where its scheme has a place for it; other URLs unchanged."""
    carrier = _CARRIERS.get(url.split("://", 1)[0].lower())
    if carrier is None:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{quote(carrier, safe=':+')}={quote(ident)}"
