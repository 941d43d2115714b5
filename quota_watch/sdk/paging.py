"""Pagination helpers: page numbers, cursors and RFC 8288 Link headers, never silently cut."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from quota_watch.sdk.client import Answer, ProviderHttp
from quota_watch.sdk.errors import UnexpectedResponse

if TYPE_CHECKING:
    pass

__all__ = ["cursor_pages", "link_pages", "numbered_pages"]

T = TypeVar("T")


async def numbered_pages(
    fetch: Callable[[int], Awaitable[tuple[T, bool]]], *, max_pages: int, where: str
) -> AsyncIterator[T]:
    """Pages 1, 2, ...: `fetch(n)` returns the page and whether another follows. More than
    `max_pages` pages is an UnexpectedResponse (never a silent truncation)."""
    for number in range(1, max_pages + 1):
        page, more = await fetch(number)
        yield page
        if not more:
            return
    raise UnexpectedResponse(f"{where}: more than {max_pages} pages (max_pages)")


async def cursor_pages(
    fetch: Callable[[str | None], Awaitable[tuple[T, str | None]]], *, max_pages: int, where: str
) -> AsyncIterator[T]:
    """Pages chained by a cursor: `fetch(cursor)` returns the page and the next cursor (None
    or "" at the end). A cursor seen before, or more than `max_pages` pages, is an
    UnexpectedResponse."""
    cursor: str | None = None
    seen: set[str] = set()
    for number in range(1, max_pages + 1):
        page, cursor = await fetch(cursor)
        yield page
        if not cursor:
            return
        if cursor in seen:
            raise UnexpectedResponse(f"{where}: page {number}'s cursor repeats an earlier page's")
        seen.add(cursor)
    raise UnexpectedResponse(f"{where}: still a next cursor after {max_pages} pages (max_pages)")


async def link_pages(
    http: ProviderHttp,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    max_pages: int,
) -> AsyncIterator[Answer]:
    """Each page of a list whose answers name the next one in `Link: <...>; rel="next"`.

    A next link to another origin (the credentials would follow it), one that points back to
    a page already read, or more than `max_pages` pages is an UnexpectedResponse.
    """
    import httpx

    answer = await http.get(path, params=params)
    origin = (answer.url.scheme, answer.url.host, answer.url.port)
    seen = {str(answer.url)}
    for _ in range(max_pages):
        yield answer
        following = answer.next_link()
        if following is None:
            return
        url = httpx.URL(following)
        if (url.scheme, url.host, url.port) != origin:
            raise UnexpectedResponse(f"{answer.where}: the Link header points to another origin")
        if str(url) in seen:
            raise UnexpectedResponse(f"{answer.where}: the Link header points back to a page read")
        seen.add(str(url))
        answer = await http.get(str(url), where=http.where("GET", following))
    raise UnexpectedResponse(f"{http.where('GET', path)}: more than {max_pages} pages (max_pages)")
