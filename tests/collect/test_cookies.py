"""The shared client keeps no cookies: one account's provider cookie never reaches another's."""

from __future__ import annotations

from typing import Any

from quota_watch.collect.runtime import http_client
from quota_watch.config.load import validate_config
from tests.support.asgiserver import serve_asgi


class CookieSettingApp:
    """Sets a session cookie on every answer and records each request's Cookie header."""

    def __init__(self) -> None:
        self.cookie_headers: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        cookie = headers.get(b"cookie")
        self.cookie_headers.append(None if cookie is None else cookie.decode())
        account = headers[b"authorization"].decode()
        body = b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"set-cookie", f"session={account}; Path=/; HttpOnly".encode()),
                    (b"set-cookie", b"__cf_bm=abc; Path=/"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def test_a_cookie_set_for_one_account_is_not_sent_with_the_next_request() -> None:
    app = CookieSettingApp()
    config = validate_config({}, None, env={})
    async with serve_asgi(app) as url, http_client(config) as client:
        for account in ("Bearer account-a", "Bearer account-b", "Bearer account-a"):
            response = await client.get(f"{url}/usage", headers={"Authorization": account})
            assert response.status_code == 200
            # The answer itself still carries the header: a collector could read it.
            assert "session=" in response.headers["set-cookie"]
        assert app.cookie_headers == [None, None, None]
        assert not client.cookies
