"""Alerts of an account that is no longer watched (removed from the config, or disabled)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from quota_watch.engine.evaluation import Evaluation
from quota_watch.engine.state import KINDS, Transition
from quota_watch.model import AlertState

__all__ = ["retire_account"]


def retire_account(prior: Iterable[AlertState], now: datetime) -> Evaluation:
    """Resolve the firing alerts of an account nobody polls any more (each with a `resolved`
    message carrying its last figures) and drop its pending ones: nobody is left waiting for a
    recovery that can no longer be observed."""
    out = Evaluation()
    for alert in prior:
        if alert.kind not in KINDS:
            continue  # a pool's alert outlives any one member
        if alert.status == "pending":
            out.deletions.append(alert.fingerprint)
        elif alert.status == "firing":
            resolved = replace(
                alert,
                status="resolved",
                resolved_at=now,
                last_notified_at=now,
                next_reminder_at=None,
                updated_at=now,
            )
            out.states.append(resolved)
            out.transitions.append(Transition("resolved", resolved))
    return out
