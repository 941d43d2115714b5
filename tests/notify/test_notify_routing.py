"""Notifier settings and routing: severities, silences, quiet hours (DST, midnight), digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from quota_watch.model import AlertState, Silence
from quota_watch.notify.config import NotifierSettings, QuietHours, notifier_name
from quota_watch.notify.routing import Route, digest_boundary, route
from tests.support.factories import make_alert

NOW = datetime(2026, 11, 22, 10, 17, 5, tzinfo=UTC)


def alert(**changes: Any) -> AlertState:
    """A warning threshold alert on Cloudflare KV writes."""
    return make_alert(
        NOW,
        **{
            **dict(
                alertname="QuotaAlmostFull",
                limit="kv_writes",
                severity="warning",
                value=850.0,
                cap=1000.0,
                ratio=0.85,
            ),
            **changes,
        },
    )


def notifier(**data: Any) -> NotifierSettings:
    return NotifierSettings.model_validate({"url": "json://127.0.0.1:9/hook", **data})


def silence(matchers: dict[str, str], hours: float = 24) -> Silence:
    return Silence(
        id=1,
        matchers=matchers,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW - timedelta(hours=1) + timedelta(hours=hours),
        reason="known spike",
        created_by="ops",
        created_at=NOW - timedelta(hours=1),
    )


# --- settings -----------------------------------------------------------------------------------


def test_settings_defaults_and_secret_url() -> None:
    n = notifier()
    assert n.name is None
    assert n.severities == ["critical", "warning"]
    assert (n.mode, n.digest_interval, n.quiet_hours, n.format) == (
        "immediate",
        timedelta(hours=1),
        None,
        "markdown",
    )
    secret = NotifierSettings.model_validate({"url": "tgram://123456:SECRETBOT/42"})
    assert "SECRETBOT" not in repr(secret) and "SECRETBOT" not in str(secret)
    assert "SECRETBOT" not in secret.model_dump_json()
    assert notifier_name(n, 3) == "notifier-3"
    assert notifier_name(notifier(name="ops-mail"), 3) == "ops-mail"


def test_settings_parse_and_serialise_durations_and_quiet_hours() -> None:
    n = notifier(
        mode="digest",
        digest_interval="30m",
        quiet_hours={"start": "23:30", "end": "06:00", "tz": "Europe/Berlin"},
        severities=["warning", "warning", "info"],
    )
    assert n.digest_interval == timedelta(minutes=30)
    assert n.severities == ["warning", "info"]
    assert n.quiet_hours == QuietHours(start="23:30", end="06:00", tz="Europe/Berlin")
    dumped = n.model_dump(mode="json")
    assert dumped["digest_interval"] == "30m"
    assert dumped["quiet_hours"]["allow_critical"] is True
    assert dumped["url"] == "**********"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"severities": []}, "at least one severity"),
        ({"severities": ["fatal"]}, "severities"),
        ({"mode": "batch"}, "mode"),
        ({"digest_interval": "30s"}, "at least 1m"),
        ({"digest_interval": "soon"}, "not a duration"),
        ({"quiet_hours": {"start": "24:00"}}, "HH:MM"),
        ({"quiet_hours": {"start": "7:00"}}, "HH:MM"),
        ({"quiet_hours": {"tz": "Mars/Olympus"}}, "IANA time zone"),
        ({"quiet_hours": {"start": "07:00", "end": "07:00"}}, "empty"),
        ({"quiet_hours": {"until": "07:00"}}, "until"),
        ({"name": "bad name"}, "name"),
        ({"tags": ["x"]}, "tags"),
    ],
)
def test_settings_reject(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        notifier(**data)


def test_url_is_required() -> None:
    with pytest.raises(ValidationError, match="url"):
        NotifierSettings.model_validate({})


# --- severities and silences ----------------------------------------------------------------------


NOTIFIERS = [
    notifier(name="pager", severities=["critical"]),
    notifier(severities=["critical", "warning"]),
    notifier(name="chatty", severities=["info", "warning", "critical"]),
]


def names(routes: list[Route]) -> list[str]:
    return [r.notifier for r in routes]


def test_routes_by_severity() -> None:
    assert names(route(alert(), "firing", NOTIFIERS, [], NOW)) == ["notifier-1", "chatty"]
    critical = alert(severity="critical", alertname="QuotaFullyUsed")
    assert names(route(critical, "escalated", NOTIFIERS, [], NOW)) == [
        "pager",
        "notifier-1",
        "chatty",
    ]
    assert names(route("info", "test", NOTIFIERS, [], NOW)) == ["chatty"]
    assert all(
        r.immediate and r.next_attempt_at == NOW
        for r in route(critical, "firing", NOTIFIERS, [], NOW)
    )


def test_resolved_and_period_reset_go_where_the_firing_severity_went() -> None:
    warning_resolved = alert(status="resolved", resolved_at=NOW)
    for kind in ("resolved", "period_reset"):
        assert names(route(warning_resolved, kind, NOTIFIERS, [], NOW)) == ["notifier-1", "chatty"]
    critical_resolved = replace(warning_resolved, severity="critical")
    assert names(route(critical_resolved, "resolved", NOTIFIERS, [], NOW))[0] == "pager"


def test_silenced_alert_sends_nothing_of_any_kind() -> None:
    s = silence({"provider": "cloudflare", "limit": "kv_writes"})
    for kind in ("firing", "reminder", "escalated", "resolved", "period_reset"):
        assert route(alert(), kind, NOTIFIERS, [s], NOW) == []


def test_silence_must_match_every_matcher_and_be_in_force() -> None:
    other_limit = silence({"provider": "cloudflare", "limit": "d1_rows_read"})
    assert names(route(alert(), "firing", NOTIFIERS, [other_limit], NOW)) == [
        "notifier-1",
        "chatty",
    ]
    expired = silence({"account": "cf-main"}, hours=0.5)
    assert len(route(alert(), "firing", NOTIFIERS, [expired], NOW)) == 2
    by_alertname = silence({"alertname": "QuotaAlmostFull"})
    assert route(alert(), "firing", NOTIFIERS, [other_limit, by_alertname], NOW) == []


def test_bare_severity_ignores_silences_and_digest_kind_is_not_routable() -> None:
    everything = silence({"provider": "cloudflare"})
    assert names(route("critical", "test", NOTIFIERS, [everything], NOW)) == [
        "pager",
        "notifier-1",
        "chatty",
    ]
    with pytest.raises(ValueError, match="digest"):
        route(alert(), "digest", NOTIFIERS, [], NOW)


# --- quiet hours --------------------------------------------------------------------------------

BERLIN_NIGHT = {"start": "22:00", "end": "07:00", "tz": "Europe/Berlin"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "window_end"),
    [
        # Berlin is UTC+1 in November: 22:00-07:00 local is 21:00-06:00 UTC.
        ("2026-11-22T20:59:59+00:00", None),
        ("2026-11-22T21:00:00+00:00", "2026-11-23T06:00:00+00:00"),
        ("2026-11-22T22:59:00+00:00", "2026-11-23T06:00:00+00:00"),  # 23:59 local
        ("2026-11-22T23:00:00+00:00", "2026-11-23T06:00:00+00:00"),  # 00:00 local, next day
        ("2026-11-23T05:59:59+00:00", "2026-11-23T06:00:00+00:00"),
        ("2026-11-23T06:00:00+00:00", None),
        ("2026-11-23T12:00:00+00:00", None),
        # Spring forward (29 March 2026): the night is an hour shorter in UTC.
        ("2026-03-28T21:30:00+00:00", "2026-03-29T05:00:00+00:00"),
        # Fall back (25 October 2026): an hour longer.
        ("2026-10-24T20:30:00+00:00", "2026-10-25T06:00:00+00:00"),
    ],
)
def test_quiet_window_over_midnight_in_berlin(now: str, window_end: str | None) -> None:
    quiet = QuietHours.model_validate(BERLIN_NIGHT)
    assert quiet.window_end(at(now)) == (None if window_end is None else at(window_end))


def test_quiet_window_within_one_day() -> None:
    lunch = QuietHours(start="12:00", end="13:30", tz="Asia/Tokyo")  # UTC+9: 03:00-04:30 UTC
    assert lunch.window_end(at("2026-11-22T02:59:00+00:00")) is None
    assert lunch.window_end(at("2026-11-22T03:00:00+00:00")) == at("2026-11-22T04:30:00+00:00")
    assert lunch.window_end(at("2026-11-22T04:30:00+00:00")) is None


def test_quiet_hours_defer_non_critical_to_the_end_of_the_window_not_drop() -> None:
    night = at("2026-11-22T23:30:00+00:00")  # 00:30 in Berlin
    quiet = [notifier(name="phone", quiet_hours=BERLIN_NIGHT)]
    (warning_route,) = route(alert(), "firing", quiet, [], night)
    assert warning_route == Route(
        "phone", at("2026-11-23T06:00:00+00:00"), digest=False, deferred=True
    )
    assert not warning_route.immediate
    (resolved_route,) = route(alert(status="resolved"), "resolved", quiet, [], night)
    assert resolved_route.deferred
    critical = alert(severity="critical")
    assert route(critical, "firing", quiet, [], night) == [
        Route("phone", night, digest=False, deferred=False)
    ]
    strict = [notifier(name="phone", quiet_hours={**BERLIN_NIGHT, "allow_critical": False})]
    (critical_route,) = route(critical, "firing", strict, [], night)
    assert critical_route.next_attempt_at == at("2026-11-23T06:00:00+00:00")
    assert critical_route.deferred
    day = at("2026-11-23T09:00:00+00:00")
    assert route(alert(), "firing", strict, [], day)[0].immediate


def test_test_messages_ignore_quiet_hours_and_digests() -> None:
    night = at("2026-11-22T23:30:00+00:00")
    quiet_digest = [
        notifier(name="phone", mode="digest", quiet_hours={**BERLIN_NIGHT, "allow_critical": False})
    ]
    assert route("warning", "test", quiet_digest, [], night) == [
        Route("phone", night, digest=False, deferred=False)
    ]


# --- digests ------------------------------------------------------------------------------------


def test_digest_boundary_is_aligned_and_strictly_later() -> None:
    assert digest_boundary(NOW, timedelta(hours=1)) == at("2026-11-22T11:00:00+00:00")
    assert digest_boundary(at("2026-11-22T11:00:00+00:00"), timedelta(hours=1)) == at(
        "2026-11-22T12:00:00+00:00"
    )
    assert digest_boundary(NOW, timedelta(hours=6)) == at("2026-11-22T12:00:00+00:00")
    assert digest_boundary(NOW, timedelta(minutes=15)) == at("2026-11-22T10:30:00+00:00")
    assert digest_boundary(NOW, timedelta(days=1)) == at("2026-11-23T00:00:00+00:00")
    berlin = datetime.fromisoformat("2026-11-22T11:17:05+01:00")  # the same instant as NOW
    assert digest_boundary(berlin, timedelta(hours=1)) == at("2026-11-22T11:00:00+00:00")


def test_digest_notifier_holds_every_kind_until_the_next_boundary() -> None:
    digest = [notifier(name="mail", mode="digest", digest_interval="1h"), notifier(name="chat")]
    for kind in ("firing", "resolved", "reminder"):
        mail, chat = route(alert(), kind, digest, [], NOW)
        assert mail == Route("mail", at("2026-11-22T11:00:00+00:00"), digest=True, deferred=False)
        assert chat == Route("chat", NOW, digest=False, deferred=False)
    critical = alert(severity="critical")
    assert route(critical, "firing", digest, [], NOW)[0].digest


def test_digest_boundary_inside_quiet_hours_moves_to_the_window_end() -> None:
    evening = at("2026-11-22T20:30:00+00:00")  # 21:30 Berlin: the 21:00 UTC digest is quiet
    mail = [notifier(name="mail", mode="digest", digest_interval="1h", quiet_hours=BERLIN_NIGHT)]
    (held,) = route(alert(), "firing", mail, [], evening)
    assert held == Route("mail", at("2026-11-23T06:00:00+00:00"), digest=True, deferred=True)
    (critical,) = route(alert(severity="critical"), "firing", mail, [], evening)
    assert critical == Route("mail", at("2026-11-22T21:00:00+00:00"), digest=True, deferred=False)
    (before_quiet,) = route(alert(), "firing", mail, [], at("2026-11-22T19:30:00+00:00"))
    assert before_quiet.next_attempt_at == at("2026-11-22T20:00:00+00:00")
    assert not before_quiet.deferred
