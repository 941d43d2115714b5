"""Option types every collector shares: the API root, the billing-cycle anchor day."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator

if TYPE_CHECKING:
    pass

__all__ = ["ApiBase", "check_api_base"]


def check_api_base(value: str) -> str:
    """`value` as an API root: an http(s) URL with a host and no user info, query string or
    fragment (credentials have options of their own), without its trailing slash."""
    import httpx

    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http(s) URL with a host, e.g. https://api.example.com")
    if url.userinfo or url.query or url.fragment:
        raise ValueError(
            "must not carry user info (credentials have their own options), a query string "
            "or a fragment"
        )
    return value.rstrip("/")


ApiBase = Annotated[str, AfterValidator(check_api_base)]
"""The type of every collector's `api_base` option (tests, proxies and emulators point it
elsewhere)."""
