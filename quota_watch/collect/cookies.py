"""A cookie jar that keeps nothing, for the HTTP client every account shares."""

from __future__ import annotations

from http.cookiejar import Cookie, CookieJar
from typing import Any


class NoCookieJar(CookieJar):
    """Refuses every cookie a response sets, so none rides along with a later request.

    All accounts poll through one client: a cookie that one account's provider set (a
    session, a bot-management or load-balancer cookie) would otherwise be sent with the
    requests of every other account on the same host. No collector relies on cookies.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep nothing from a response's Set-Cookie headers (and do not parse them)."""

    def set_cookie(self, cookie: Cookie) -> None:
        """Keep nothing set directly either."""
