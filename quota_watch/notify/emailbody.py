"""E-mail bodies: a markdown message as HTML whose derived plain-text part reads cleanly."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["EMAIL_SCHEMES", "email_html", "is_email_url"]

EMAIL_SCHEMES = frozenset({"mailto", "mailtos"})
"""apprise's SMTP plugin: it sends HTML with a plain-text alternative derived from the HTML."""

_BULLET = re.compile(r"(?m)^- (.*)$")


def is_email_url(url: str) -> bool:
    """Whether apprise delivers `url` through its SMTP plugin."""
    return urlsplit(url.strip()).scheme.lower() in EMAIL_SCHEMES


def email_html(markdown: str) -> str:
    """`markdown` as HTML for apprise's SMTP plugin.

    apprise derives the text/plain part from the HTML part, and its converter treats `<li>` and
    `<code>` as blocks: a blank line between bullets and "(see⏎quota-watch plan⏎)". So bullets
    become lines with hard breaks and code a monospace span; the HTML part looks the same.
    """
    from apprise import NotifyFormat
    from apprise.conversion import convert_between

    lines = _BULLET.sub(r"\1  ", markdown)  # two trailing spaces: a markdown hard break
    html: str = convert_between(  # type: ignore[no-untyped-call]
        NotifyFormat.MARKDOWN, NotifyFormat.HTML, lines
    )
    return (
        html.replace("<code>", '<span style="font-family:monospace">')
        .replace("</code>", "</span>")
        # A newline after <br> is whitespace the text converter would indent the next line by.
        .replace("<br />\n", "<br />")
    )
