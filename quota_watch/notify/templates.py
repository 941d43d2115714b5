"""Message texts: a title plus plain-text and markdown bodies for every message kind."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta

from quota_watch.model import AlertState, MessageKind, OutboxMessage, Severity
from quota_watch.units import exact_span, human, percent, relative, utc_minute

__all__ = [
    "ACTIONS",
    "Rendered",
    "render",
    "render_digest",
    "render_digest_messages",
    "render_test",
]

Rendered = tuple[str, str, str]
"""(title, plain-text body, markdown body)."""

ACTIONS: dict[str, str] = {
    "threshold": "Reduce usage, raise the cap override if the plan changed, "
    "or add a shard account (see `quota-watch plan`).",
    "forecast": "Reduce usage, raise the cap override if the plan changed, "
    "or add a shard account (see `quota-watch plan`).",
    "stale": "Check the daemon log / provider status.",
    "auth": "Renew the token, then reload or run `quota-watch account resume`.",
    "shard": "Run `quota-watch plan` for the shard count and the date to act by: add a shard "
    "account to the pool, or upgrade where the provider's terms rule out more free accounts.",
}
"""The suggested action per alert kind, while the alert is open."""
_NO_ACTION = "None needed."
_DEFAULT_ACTION = "See `quota-watch report`."
_HEADLINES: dict[MessageKind, str] = {
    "firing": "Firing",
    "escalated": "Escalated from warning to critical",
    "reminder": "Still firing",
    "resolved": "Resolved",
    "period_reset": "Period reset, alert cleared",
}


# The display unit is the limit's catalogue fact, not the alert's state: render() sets it for
# the message being written, so the wording helpers keep taking just the alert.
_DISPLAY_UNIT: ContextVar[str | None] = ContextVar("display_unit", default=None)


def _amount(value: float | None, alert: AlertState) -> str:
    """`value` of the alert's limit in the provider's unit ("1,391 minutes") when it has one."""
    return human(value, alert.unit, _DISPLAY_UNIT.get())


def _relative(moment: datetime, now: datetime) -> str:
    """Exact to the second: "in 1d 3h" or "2h ago"; "now" within a second."""
    return relative(moment, now, span=exact_span, now_below=timedelta(seconds=1))


def _subject(alert: AlertState) -> str:
    where = f"{alert.provider}/{alert.account}"
    if alert.limit is None:
        return where
    return f"{where} {alert.limit}" + (f" ({alert.resource})" if alert.resource else "")


def _usage(alert: AlertState) -> str:
    """'at 104% of 100k', or 'at 104k' without a cap."""
    if alert.cap and alert.ratio is not None:
        return f"at {percent(alert.ratio)} of {_amount(alert.cap, alert)}"
    return f"at {_amount(alert.value, alert)}"


def _when(alert: AlertState, horizon: timedelta | None, *, by: str) -> str:
    """When a forecast value applies: the period's end, or (a level, which has no period) the
    forecast horizon ahead: "in 7d"."""
    if alert.period_end is not None:
        return f"{by} period end"
    return f"in {exact_span(horizon)}" if horizon else "at the forecast horizon"


def _forecast_phrase(
    alert: AlertState, now: datetime, horizon: timedelta | None = None
) -> str | None:
    if alert.forecast_value is not None:
        when = _when(alert, horizon, by="by")
        if alert.cap:
            share = percent(alert.forecast_value / alert.cap)
            return f"projected at {share} of {_amount(alert.cap, alert)} {when}"
        return f"projected at {_amount(alert.forecast_value, alert)} {when}"
    if alert.exhausts_at is not None:
        return f"projected full {_relative(alert.exhausts_at, now)}"
    return None


def _condition(
    kind: MessageKind, alert: AlertState, now: datetime, horizon: timedelta | None = None
) -> str:
    """The title's statement after the subject."""
    if alert.kind == "stale":
        if kind == "resolved":
            return "data fresh again"
        if alert.unit == "seconds" and alert.value > 0:
            return f"data stale, last success {human(alert.value, 'seconds')} ago"
        return "data stale"
    if alert.kind == "auth":
        return "credentials accepted again" if kind == "resolved" else "credentials rejected"
    if alert.kind == "shard":
        if kind == "resolved":
            return "pool has enough shards again"
        phrase = _forecast_phrase(alert, now) or _usage(alert)
        return f"needs more shards: {phrase}"
    if kind == "period_reset":
        cleared = {"critical": "full", "warning": "almost full"}.get(alert.severity, "alert")
        if alert.kind == "forecast":
            cleared = "predicted full"
        return f"{cleared} cleared, {_usage(alert)} in the new period"
    if alert.kind == "forecast":
        return _forecast_phrase(alert, now, horizon) or _usage(alert)
    return _usage(alert)


def _title(
    kind: MessageKind, alert: AlertState, now: datetime, horizon: timedelta | None = None
) -> str:
    severity = alert.severity.upper()
    prefix = {
        "firing": f"[{severity}]",
        "escalated": f"[{severity}] escalated:",
        "reminder": f"[{severity}] still firing:",
        "resolved": "[RESOLVED]",
        "period_reset": "[RESET]",
    }.get(kind, f"[{severity}]")
    return f"{prefix} {_subject(alert)} {_condition(kind, alert, now, horizon)}"


def _forecast_line(alert: AlertState, now: datetime, horizon: timedelta | None = None) -> str:
    parts = []
    if alert.forecast_value is not None:
        share = f" ({percent(alert.forecast_value / alert.cap, 1)} of cap)" if alert.cap else ""
        when = _when(alert, horizon, by="at")
        parts.append(f"{_amount(alert.forecast_value, alert)} {when}{share}")
    if alert.exhausts_at is not None:
        parts.append(f"full {_relative(alert.exhausts_at, now)} ({utc_minute(alert.exhausts_at)})")
    return "; ".join(parts) or "none (not enough data, or no cap to run out of)"


def _status_line(kind: MessageKind, alert: AlertState, now: datetime) -> str:
    text = f"{alert.alertname}, {alert.severity}"
    fired = alert.fired_at or alert.started_at
    if kind == "resolved":
        return f"{text}, fired {utc_minute(fired)}, resolved {utc_minute(alert.resolved_at or now)}"
    if kind == "period_reset":
        return f"{text}, fired {utc_minute(fired)}, cleared by the new period"
    return f"{text}, firing since {utc_minute(fired)} ({_relative(fired, now)})"


def _fields(
    kind: MessageKind,
    alert: AlertState,
    now: datetime,
    resets_at: datetime | None,
    horizon: timedelta | None = None,
) -> list[tuple[str, str]]:
    fields = [("Provider", alert.provider), ("Account", alert.account)]
    if alert.group:
        fields.append(("Group", alert.group))
    if alert.limit is not None:
        fields.append(("Limit", alert.limit))
        if alert.resource:
            fields.append(("Resource", alert.resource))
        value = _amount(alert.value, alert)
        if alert.cap:
            ratio = "" if alert.ratio is None else f" ({percent(alert.ratio, 1)})"
            value = f"{value} of {_amount(alert.cap, alert)}{ratio}"
        else:
            value += " (no known cap)"
        fields.append(("Value", value))
        fields.append(("Forecast", _forecast_line(alert, now, horizon)))
        resets = f"{_relative(resets_at, now)} ({utc_minute(resets_at)})" if resets_at else "-"
        fields.append(("Resets", resets))
    elif alert.kind == "stale" and alert.unit == "seconds" and alert.value > 0:
        allowed = f" (allowed: {human(alert.cap, 'seconds')})" if alert.cap else ""
        fields.append(("Last success", f"{human(alert.value, 'seconds')} ago{allowed}"))
    elif alert.kind == "auth" and alert.value > 0:
        fields.append(("Failed polls", f"{alert.value:g} in a row"))
    fields.append(("Alert", _status_line(kind, alert, now)))
    if kind in ("resolved", "period_reset"):
        action = _NO_ACTION
    else:
        action = ACTIONS.get(alert.kind, _DEFAULT_ACTION)
    fields.append(("Action", action))
    return fields


def _headline(
    kind: MessageKind, alert: AlertState, now: datetime, horizon: timedelta | None = None
) -> str:
    condition = _condition(kind, alert, now, horizon)
    return f"{_HEADLINES.get(kind, kind)}: {_subject(alert)} {condition}."


def _text(headline: str, fields: Sequence[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in fields) + 2
    lines = [headline, ""]
    lines += [f"{label + ':':<{width}}{value}" for label, value in fields]
    return "\n".join(lines)


def _markdown(headline: str, fields: Sequence[tuple[str, str]]) -> str:
    lines = [f"**{headline}**", ""]
    lines += [f"- **{label}:** {value}" for label, value in fields]
    return "\n".join(lines)


def render(
    kind: MessageKind,
    alert: AlertState,
    now: datetime,
    *,
    resets_at: datetime | None,
    display_unit: str | None = None,
    horizon: timedelta | None = None,
) -> Rendered:
    """(title, text, markdown) of a firing/escalated/reminder/resolved/period_reset message;
    amounts in the limit's `display_unit` (limits.toml) when it has one.

    `horizon`: the forecast horizon, which is when a level's (periodless) forecast applies
    ("projected at 130% of 8 GB in 7d"); without it, "at the forecast horizon"."""
    if kind in ("test", "digest"):
        raise ValueError(f"{kind} messages are rendered by render_{kind}")
    token = _DISPLAY_UNIT.set(display_unit)
    try:
        fields = _fields(kind, alert, now, resets_at, horizon)
        headline = _headline(kind, alert, now, horizon)
        title = _title(kind, alert, now, horizon)
        return title, _text(headline, fields), _markdown(headline, fields)
    finally:
        _DISPLAY_UNIT.reset(token)


def render_test(severity: Severity, now: datetime) -> Rendered:
    """(title, text, markdown) of the message `quota-watch notify test` sends."""
    title = f"[TEST] quota-watch test notification ({severity})"
    body = (
        f"This is a test message from quota-watch, sent {utc_minute(now)}.\n"
        f"If you can read it, {severity} alerts reach this notifier."
    )
    return title, body, f"**{title}**\n\n{body}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _open_line(alert: AlertState, now: datetime) -> str:
    since = alert.fired_at or alert.started_at
    return f"{_title('firing', alert, now)}, since {utc_minute(since)}"


def _digest(changes: Sequence[str], still_open: Sequence[AlertState], now: datetime) -> Rendered:
    title = f"[DIGEST] quota-watch: {_count(len(changes), 'change')}, {len(still_open)} still open"
    open_lines = [_open_line(a, now) for a in still_open]
    sections = [
        (f"Changes ({len(changes)})", list(changes) or ["none"]),
        (f"Still open ({len(still_open)})", open_lines or ["none"]),
    ]
    text = [f"quota-watch digest, {utc_minute(now)}"]
    markdown = [f"**quota-watch digest, {utc_minute(now)}**"]
    for heading, lines in sections:
        text += ["", f"{heading}:", *(f"- {line}" for line in lines)]
        markdown += ["", f"**{heading}**", "", *(f"- {line}" for line in lines)]
    return title, "\n".join(text), "\n".join(markdown)


def render_digest(
    changes: Sequence[tuple[MessageKind, AlertState]],
    still_open: Sequence[AlertState],
    now: datetime,
) -> Rendered:
    """(title, text, markdown) of a digest: each change's title, then each open alert."""
    lines = [f"{utc_minute(a.updated_at)} {_title(kind, a, now)}" for kind, a in changes]
    return _digest(lines, still_open, now)


def render_digest_messages(
    messages: Sequence[OutboxMessage], still_open: Sequence[AlertState], now: datetime
) -> Rendered:
    """A digest built from queued messages (what the outbox holds), oldest first."""
    ordered = sorted(messages, key=lambda m: (m.created_at, m.id or 0))
    return _digest([f"{utc_minute(m.created_at)} {m.title}" for m in ordered], still_open, now)
