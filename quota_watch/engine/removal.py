"""Alerts of an account that is no longer watched (removed from the config, or disabled)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from quota_watch.engine.evaluation import Evaluation
from quota_watch.engine.state import KINDS, Transition, resolved_now
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
            resolved = resolved_now(alert, now)
            out.states.append(resolved)
            out.transitions.append(Transition("resolved", resolved))
    return out
