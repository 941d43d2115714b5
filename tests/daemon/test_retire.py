"""An account removed from the config (or disabled) does not leave its alerts firing forever:
they are resolved, with a message, on reload or at the next start; pending ones are dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quota_watch.collect.poller import Poller
from quota_watch.config.load import validate_config
from quota_watch.daemon.alerting import Alerting
from quota_watch.engine.removal import retire_account
from quota_watch.sdk import Reading
from quota_watch.store.facade import Store
from tests.support.factories import make_alert
from tests.support.fakes import FakeCollector, account, runtime

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_a_removed_accounts_alerts_are_resolved_once(store: Store) -> None:
    clock = Clock()
    cfg = validate_config(
        {
            "store": {"url": store.display_url},
            "notifiers": [{"name": "ops", "url": "json://127.0.0.1:9/hook"}],
        },
        None,
        {},
    )
    poller, alerting = Poller(store, clock), Alerting(store, cfg, clock)
    for name, value in (("gone", 150_000.0), ("kept", 150_000.0)):
        rt = runtime(account(name))
        FakeCollector.script = [[Reading("requests", value)]]
        await alerting.after_poll(rt, await poller.poll(rt))
    assert {a.account for a in await alerting.firing()} == {"gone", "kept"}
    clock.now += timedelta(minutes=3)

    await alerting.retire_unwatched({"kept"})

    assert {a.account for a in await alerting.firing()} == {"kept"}
    messages = [m for m in await store.pending_messages("ops") if m.kind == "resolved"]
    assert len(messages) == 1
    assert messages[0].title.startswith("[RESOLVED]") and "gone" in messages[0].title
    (resolved,) = await store.load_alerts(account="gone", include_resolved=True)
    assert resolved.status == "resolved" and resolved.resolved_at == clock.now

    # Nothing left to say the second time (a later reload, a restart).
    await alerting.retire({"gone"})
    assert len([m for m in await store.pending_messages("ops") if m.kind == "resolved"]) == 1


def test_pending_alerts_are_dropped_and_pool_alerts_kept() -> None:
    pending = make_alert(START, fingerprint="p", status="pending")
    firing = make_alert(START, fingerprint="f")
    pool = make_alert(START, fingerprint="s", kind="shard", account="pool:edge")
    evaluation = retire_account([pending, firing, pool], START)
    assert evaluation.deletions == ["p"]
    assert [s.fingerprint for s in evaluation.states] == ["f"]
    assert [(t.kind, t.state.status) for t in evaluation.transitions] == [("resolved", "resolved")]
