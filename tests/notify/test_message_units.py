"""Messages give amounts in the limit's display unit (limits.toml), as the provider's pricing
page does: "2,000 minutes", not "1.39 d"."""

from __future__ import annotations

from datetime import UTC, datetime

from quota_watch.daemon.alerting import display_unit_of
from quota_watch.notify.config import NotifierSettings
from quota_watch.notify.outbox import build_messages
from quota_watch.notify.templates import render
from quota_watch.sdk import LimitSpec
from tests.support.factories import make_alert

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_amounts_in_the_display_unit() -> None:
    alert = make_alert(
        NOW,
        provider="github",
        account="gh",
        limit="actions_minutes",
        unit="seconds",
        value=1_700 * 60.0,
        cap=2_000 * 60.0,
        ratio=0.85,
    )
    title, text, markdown = render("firing", alert, NOW, resets_at=None, display_unit="minutes")
    assert title.endswith("at 85% of 2,000 minutes")
    assert "1,700 minutes of 2,000 minutes (85.0%)" in text
    assert "2,000 minutes" in markdown
    plain_title, plain_text, _ = render("firing", alert, NOW, resets_at=None)
    assert plain_title.endswith("at 85% of 1.39 d")  # without one: the base unit's form
    assert "1.39 d" in plain_text


def test_queued_messages_use_the_limit_s_display_unit() -> None:
    alert = make_alert(
        NOW, limit="actions_minutes", unit="seconds", value=2_100 * 60.0, cap=2_000 * 60.0
    )
    spec = LimitSpec(title="Actions", unit="seconds", measure="cumulative", period="daily")
    limits = {"actions_minutes": spec.model_copy(update={"display_unit": "minutes"})}
    assert display_unit_of(limits, alert) == "minutes"
    assert display_unit_of({}, alert) is None
    notifier = NotifierSettings.model_validate({"name": "ops", "url": "json://127.0.0.1:9/x"})
    (message,) = build_messages(
        [("firing", alert)],
        [notifier],
        [],
        NOW,
        display_unit=lambda a: display_unit_of(limits, a),
    )
    assert "of 2,000 minutes" in message.title and "2,100 minutes" in message.body_text
