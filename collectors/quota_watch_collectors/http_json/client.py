"""One request to the configured endpoint on the SDK's HTTP kit; returns the parsed JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quota_watch.sdk import Answer, ProviderHttp, Quirks, retry_after_seconds
from quota_watch_collectors.http_json.options import HttpJsonOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["Prepared", "fetch_json", "prepare", "retry_after_seconds"]


class _Configured(Quirks):
    """Which statuses mean refused credentials is the account's choice (`auth_statuses`)."""

    redirect_hint = "a redirect: set url to the final address"

    def __init__(self, options: HttpJsonOptions) -> None:
        self.refused_statuses = frozenset(options.auth_statuses)

    def refused(self, answer: Answer) -> str:
        return "credentials rejected or lacking a permission"


def _secrets(options: HttpJsonOptions) -> list[str]:
    """Every secret the request carries: header values, the URL's password and query."""
    import httpx

    url = httpx.URL(str(options.url))
    return [
        *(v.get_secret_value() for v in options.headers.values()),
        url.password or "",
        url.query.decode(errors="replace"),
    ]


@dataclass(frozen=True)
class Prepared:
    """What every request of one account's options carries, worked out once (each URL parse
    costs tens of microseconds, per poll of every account)."""

    url: str
    headers: dict[str, str]
    secrets: list[str]
    where: str
    quirks: _Configured
    timeout: float | None


def prepare(options: HttpJsonOptions) -> Prepared:
    """The request `options` describe, ready to send again and again."""
    return Prepared(
        url=str(options.url),
        headers={name: value.get_secret_value() for name, value in options.headers.items()},
        secrets=_secrets(options),
        where=f"{options.method} {options.display_url}",
        quirks=_Configured(options),
        timeout=None if options.timeout is None else options.timeout.total_seconds(),
    )


async def fetch_json(
    client: httpx.AsyncClient,
    options: HttpJsonOptions,
    *,
    now: datetime,
    prepared: Prepared | None = None,
) -> Any:
    """Send the configured request and return the decoded JSON body (errors: the kit's map,
    with `auth_statuses` as the refused ones and `max_response_size` as the body limit).
    `prepared`: `prepare(options)` kept from an earlier call."""
    request = prepared or prepare(options)
    http = ProviderHttp(
        client,
        now=now,
        secrets=request.secrets,
        max_body=options.max_response_size,
        max_body_option="max_response_size",
        quirks=request.quirks,
    )
    answer = await http.request(
        options.method,
        request.url,
        headers=dict(request.headers),
        json=options.body,
        where=request.where,
        request_timeout=request.timeout,
    )
    return answer.json()
