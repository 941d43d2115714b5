"""/metrics content negotiation: OpenMetrics or text format by Accept, gzip by Accept-Encoding."""

from __future__ import annotations

from dataclasses import dataclass

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
#: Level 1: at 10k series (7.7 MiB of OpenMetrics) it compresses 24x in 13 ms where level 6
#: compresses 26x in 35 ms (bench/bench_metrics_encoding.py) -- once the samples are pre-rendered,
#: gzip is most of a scrape's CPU, and a 1 GB VM scraped every 15 s wants the CPU back.
GZIP_LEVEL = 1


def _weights(header: str) -> dict[str, float]:
    """Each media type (or coding) of an Accept(-Encoding) header with its q-value."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        name = name.lower()
        weights[name] = max(weights.get(name, 0.0), q)
    return weights


def wants_openmetrics(accept: str | None) -> bool:
    """Whether `accept` prefers OpenMetrics to the text format (Prometheus' default header does)."""
    if not accept:
        return False
    weights = _weights(accept)
    openmetrics = weights.get("application/openmetrics-text", 0.0)
    text = max(weights.get("text/plain", 0.0), weights.get("text/*", 0.0))
    return openmetrics > 0 and openmetrics >= text


def wants_gzip(accept_encoding: str | None) -> bool:
    """Whether `accept_encoding` accepts gzip."""
    if not accept_encoding:
        return False
    weights = _weights(accept_encoding)
    return weights.get("gzip", weights.get("*", 0.0)) > 0


@dataclass(frozen=True)
class Negotiated:
    """What a /metrics request asked for: the format, the coding, and the response headers."""

    openmetrics: bool
    gzip: bool
    headers: dict[str, str]


def negotiate(accept: str | None, accept_encoding: str | None) -> Negotiated:
    """The format and coding `accept` and `accept_encoding` ask for, with their headers."""
    openmetrics = wants_openmetrics(accept)
    headers = {
        "Content-Type": OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE,
        "Vary": "Accept, Accept-Encoding",
    }
    compress = wants_gzip(accept_encoding)
    if compress:
        headers["Content-Encoding"] = "gzip"
    return Negotiated(openmetrics, compress, headers)
