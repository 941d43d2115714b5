"""Monthly egress accounting from cumulative interface counters: pure, state in and state out."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from quota_watch_collectors.host.models import EgressState

__all__ = ["EgressUpdate", "account_egress"]


@dataclass(frozen=True, slots=True)
class EgressUpdate:
    """The new state, and whether its total is a reportable month total."""

    state: EgressState
    reportable: bool


def account_egress(
    previous: EgressState | None,
    counters: Mapping[str, int],
    present: Collection[str],
    *,
    month_start: datetime,
    now: datetime,
    boot_id: str | None,
    booted_at: Callable[[], datetime],
) -> EgressUpdate:
    """Advance the month total by the counters' growth since the previous poll.

    `counters` holds tx_bytes of the counted interfaces, `present` every interface name the
    kernel listed. A counter below its last value was reset (reboot, driver reload) and counts
    whole; so does every counter after the boot id changed, and the counter of an interface
    that appeared since the previous poll. The first poll ever can only claim whole counters
    when the system booted inside the month; otherwise it records a baseline and is not
    reportable. A new month starts from 0, and the interval crossing the boundary counts for
    the new month.
    """
    if previous is None:
        booted = booted_at()
        if booted >= month_start:
            total, since, reportable = sum(counters.values()), booted, True
        else:
            total, since, reportable = 0, now, False
        state = EgressState(
            month_start=month_start,
            total=total,
            counting_since=since,
            boot_id=boot_id,
            counters=dict(counters),
            present=sorted(present),
        )
        return EgressUpdate(state, reportable)

    rebooted = boot_id is not None and previous.boot_id is not None and boot_id != previous.boot_id
    if month_start != previous.month_start:
        total, since = 0, month_start
    else:
        total, since = previous.total, previous.counting_since
    booted_in_month: bool | None = None
    for name, current in counters.items():
        last = previous.counters.get(name)
        if rebooted:
            delta = current
        elif last is not None:
            delta = current - last if current >= last else current
        elif name not in previous.present:
            delta = current  # created since the previous poll: all of it is new traffic
        else:
            # Present before but not counted (options changed): its counter is ours only if
            # it started inside this month, i.e. the system booted inside it.
            if booted_in_month is None:
                booted_in_month = booted_at() >= month_start
            delta = current if booted_in_month else 0
        total += delta
    state = EgressState(
        month_start=month_start,
        total=total,
        counting_since=since,
        boot_id=boot_id if boot_id is not None else previous.boot_id,
        counters=dict(counters),
        present=sorted(present),
    )
    return EgressUpdate(state, True)
