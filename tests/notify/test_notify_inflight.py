"""Messages are marked in flight before sending (a crash mid-send does not resend at once) and
carry a stable id on every retry: a JSON field and a mail header, to real loopback receivers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from quota_watch.notify.config import NotifierSettings
from quota_watch.notify.deliver import BodyFormat, NotifyType
from quota_watch.notify.message_id import message_id, with_message_id
from quota_watch.notify.outbox import OutboxWorker, enqueue
from quota_watch.store.facade import Store
from tests.support.factories import make_alert
from tests.support.receivers import HttpReceiver, SmtpReceiver

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
FIRST_RETRY = timedelta(seconds=30)


def notifier(url: str) -> NotifierSettings:
    return NotifierSettings(name="hook", url=SecretStr(url), severities=["critical"])


def test_the_id_rides_in_a_json_field_or_a_mail_header() -> None:
    assert with_message_id("json://h/x", "qw-1") == "json://h/x?:message_id=qw-1"
    assert with_message_id("jsons://h/x?a=b", "qw-1") == "jsons://h/x?a=b&:message_id=qw-1"
    assert with_message_id("mailto://h?to=a@b", "qw-1").endswith("&+X-Quota-Watch-Message-Id=qw-1")
    assert with_message_id("tgram://bot/chat", "qw-1") == "tgram://bot/chat"


async def test_a_crash_mid_send_does_not_resend_at_once(store: Store) -> None:
    url = "json://127.0.0.1:9/alerts"
    alert = make_alert(NOW)
    (queued,) = await enqueue(store, [alert], [("firing", alert)], [notifier(url)], NOW)
    seen: list[str] = []

    async def dying_sender(
        url: str,
        title: str,
        body: str,
        body_format: BodyFormat,
        *,
        notify_type: NotifyType = "info",
        time_limit: float = 60.0,
    ) -> tuple[bool, str | None]:
        seen.append(url)
        raise asyncio.CancelledError  # the daemon is killed while the request is out

    worker = OutboxWorker(store, [notifier(url)], sender=dying_sender, retry_first=FIRST_RETRY)
    with pytest.raises(asyncio.CancelledError):
        await worker.run_once(NOW)
    assert len(seen) == 1
    # the restarted daemon finds the message in flight: not due again before the retry delay
    assert await store.due_messages(NOW + timedelta(seconds=1)) == []
    (again,) = await store.due_messages(NOW + FIRST_RETRY)
    assert again.id == queued.id and again.sent_at is None and again.attempts == 0
    assert message_id([again]) == message_id([queued])


@pytest.mark.slow
async def test_retries_carry_the_same_id_to_real_receivers(store: Store) -> None:
    with HttpReceiver() as hook, SmtpReceiver() as smtp:
        notifiers = [
            NotifierSettings(
                name="hook",
                url=SecretStr(f"json://127.0.0.1:{hook.port}/alerts"),
                severities=["critical"],
            ),
            NotifierSettings(
                name="mail",
                url=SecretStr(
                    f"mailto://127.0.0.1:{smtp.port}?from=qw@example.com&to=ops@example.com"
                ),
                severities=["critical"],
                format="text",
            ),
        ]
        alert = make_alert(NOW)
        queued = await enqueue(store, [alert], [("firing", alert)], notifiers, NOW)
        worker = OutboxWorker(store, notifiers, retry_first=FIRST_RETRY, timeout=30)
        hook.status = 500  # the first delivery fails; the retry carries the same id
        await worker.run_once(NOW)
        hook.status = 200
        await worker.run_once(NOW + FIRST_RETRY)
        expected = {m.notifier: message_id([m]) for m in queued}
        assert [p.get("message_id") for p in hook.posts] == [expected["hook"]]
        with smtp.sink.lock:
            headers = [m["X-Quota-Watch-Message-Id"] for m in smtp.sink.messages]
        assert headers == [expected["mail"]]
