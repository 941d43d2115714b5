"""Alert signal on seeded realistic traces: lead time, false alarms, message counts.

Replays every trace of `quota_watch.testing.traces.standard_traces(seed)` through the default
rule pack exactly as `quota-watch rules test` does (`engine.replay.replay`), and scores the
alerts against the trace's truth, beside two baselines computed on the same polls:

- plain-80 %: a threshold alert firing on every poll at >= 80 % of the cap, resolving below;
- predict_linear: Prometheus' `predict_linear(usage[6h], t) >= cap` (least squares over a fixed
  6 h window; t = the time to the period's end for cumulative calendar limits, 7 d for levels).

Figures (a period: one day / month / billing cycle of a cumulative cap; a level trace is one):
- lead: real cap crossing minus the first forecast alert in that period (0 when it never fired
  before the crossing), median over the periods that reached the cap, monthly and daily caps;
  `warning lead` is the same for the earliest warning of either rule;
- false-alarm periods: periods with a warning (threshold or forecast) whose usage never
  reached the cap;
- fire/resolve messages (firing, escalated, resolved, period reset) and reminders;
- bad-reading resolves: resolutions at a reading known to be wrong (a zero glitch).

The BEFORE figures (the engine as it was) come from the same script run on the base commit:
`git worktree add /tmp/alerts-before ee376dc`, copy this file and quota_watch/testing/traces.py
there, run it from there (bench/README.md has both tables).

    python bench/bench_alert_signal.py            # 24 traces, ~1-4 min
    python bench/bench_alert_signal.py --quick    # the first trace of each category
    python bench/bench_alert_signal.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from quota_watch.collect.periods import current_period  # noqa: E402
from quota_watch.engine.replay import replay  # noqa: E402
from quota_watch.engine.rulepack import load_rule_pack  # noqa: E402
from quota_watch.sdk import Measure  # noqa: E402
from quota_watch.testing.traces import Trace, standard_traces  # noqa: E402

WINDOW = timedelta(hours=6)
HORIZON = timedelta(days=7)
_FIRE_RESOLVE = ("firing", "escalated", "resolved", "period_reset")


@dataclass
class Score:
    """One alerting system's figures over the trace set."""

    leads: dict[str, list[float]] = field(default_factory=lambda: {"monthly": [], "daily": []})
    warning_leads: dict[str, list[float]] = field(
        default_factory=lambda: {"monthly": [], "daily": [], "level": []}
    )
    false_alarms: int = 0
    periods: int = 0
    messages: int = 0
    reminders: int = 0
    bad_resolves: int = 0
    per_trace: dict[str, int] = field(default_factory=dict)
    forecasts: bool = True  # whether the system has a forecast rule at all


@dataclass(frozen=True)
class Event:
    """A message of a system: kind (firing/resolved/...), which rule, when."""

    kind: str
    rule: str  # forecast | threshold
    at: datetime


def _period_key(trace: Trace, at: datetime) -> datetime | None:
    if trace.category == "level":
        return None
    return current_period(trace.series.spec.period, at).start


def _score(trace: Trace, events: Sequence[Event], score: Score) -> None:
    """Add one trace's events to `score`."""
    times = [ts for ts, _ in trace.series.points]
    bad_times = {times[i] for i in trace.bad}
    for start, indexes in trace.periods():
        score.periods += 1
        mine = [e for e in events if _period_key(trace, e.at) == start and e.kind == "firing"]
        reached = trace.cap_reached_at(indexes)
        if reached is None:
            score.false_alarms += bool(mine)
            continue
        forecast = [e.at for e in mine if e.rule == "forecast" and e.at <= reached]
        warning = [e.at for e in mine if e.at <= reached]
        for bucket, firsts in ((score.leads, forecast), (score.warning_leads, warning)):
            if trace.category in bucket and (bucket is score.warning_leads or score.forecasts):
                lead = (reached - min(firsts)).total_seconds() if firsts else 0.0
                bucket[trace.category].append(lead)
    counted = [e for e in events if e.kind in _FIRE_RESOLVE]
    score.messages += len(counted)
    score.per_trace[trace.name] = len(counted)
    score.reminders += sum(e.kind == "reminder" for e in events)
    score.bad_resolves += sum(e.kind == "resolved" and e.at in bad_times for e in events)


def ours(trace: Trace, pack_path: Path | None) -> list[Event]:
    """The engine's messages on `trace` (the `rules test` path)."""
    result = replay(trace.series, load_rule_pack(pack_path))
    rule = {"QuotaPredictedFull": "forecast"}
    return [
        Event(t.kind, rule.get(t.state.alertname, "threshold"), t.at)
        for t in result.transitions
        if t.state.kind in ("threshold", "forecast")
    ]


def _toggle(trace: Trace, rule: str, conditions: Sequence[bool]) -> list[Event]:
    events: list[Event] = []
    firing = False
    for (ts, _), condition in zip(trace.series.points, conditions, strict=True):
        if condition != firing:
            events.append(Event("firing" if condition else "resolved", rule, ts))
            firing = condition
    return events


def plain_threshold(trace: Trace) -> list[Event]:
    """Fires on every poll at >= 80 % of the cap, resolves below."""
    return _toggle(trace, "threshold", [v >= 0.8 * trace.cap for _, v in trace.series.points])


def _least_squares(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope, my - slope * mx


def predict_linear(trace: Trace) -> list[Event]:
    """`predict_linear(usage[6h], t) >= cap` on every poll (t: to period end, or 7 d)."""
    spec = trace.series.spec
    points = trace.series.points
    conditions = []
    start = 0
    for index, (ts, _value) in enumerate(points):
        while points[start][0] < ts - WINDOW:
            start += 1
        window = [((p - ts).total_seconds(), v) for p, v in points[start : index + 1]]
        line = _least_squares(window)
        if line is None:
            conditions.append(False)
            continue
        slope, intercept = line
        end = current_period(spec.period, ts).end
        if spec.measure is Measure.CUMULATIVE and end is not None:
            ahead = (end - ts).total_seconds()
        else:
            ahead = HORIZON.total_seconds()
        conditions.append(intercept + slope * ahead >= trace.cap)
    return _toggle(trace, "forecast", conditions)


def _median(values: Sequence[float], scale: float) -> str:
    return f"{statistics.median(values) / scale:.2f}" if values else "-"


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, object]]:
    """Run the bench and print the table; returns the figures (also written with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="one trace per category")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--rule-pack", type=Path, help="a rule pack (default: the shipped one)")
    parser.add_argument("--verbose", action="store_true", help="messages per trace")
    args = parser.parse_args(argv)
    traces = standard_traces(args.seed)
    if args.quick:
        seen: set[str] = set()
        traces = [t for t in traces if not (t.category in seen or seen.add(t.category))]
    systems = {
        "ours": Score(),
        "plain-80%": Score(forecasts=False),
        "predict_linear[6h]": Score(),
    }
    began = time.perf_counter()
    for trace in traces:
        _score(trace, ours(trace, args.rule_pack), systems["ours"])
        _score(trace, plain_threshold(trace), systems["plain-80%"])
        _score(trace, predict_linear(trace), systems["predict_linear[6h]"])
    elapsed = time.perf_counter() - began
    categories = {t.category for t in traces}
    print(f"alert signal: {len(traces)} traces (seed {args.seed}), {elapsed:.0f} s")
    print(
        f"  categories: {', '.join(f'{c} {sum(t.category == c for t in traces)}' for c in sorted(categories))}"  # noqa: E501
    )
    rows = [
        ("median forecast lead, monthly caps (d)", lambda s: _median(s.leads["monthly"], 86400)),
        ("median forecast lead, daily caps (h)", lambda s: _median(s.leads["daily"], 3600)),
        (
            "median warning lead, monthly caps (d)",
            lambda s: _median(s.warning_leads["monthly"], 86400),
        ),
        (
            "median warning lead, daily caps (h)",
            lambda s: _median(s.warning_leads["daily"], 3600),
        ),
        ("median warning lead, levels (h)", lambda s: _median(s.warning_leads["level"], 3600)),
        ("false-alarm periods", lambda s: f"{s.false_alarms} of {s.periods}"),
        ("fire/resolve messages", lambda s: str(s.messages)),
        ("reminders", lambda s: str(s.reminders)),
        ("resolves at a bad reading", lambda s: str(s.bad_resolves)),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"  {'':<{width}}  " + "  ".join(f"{name:>18}" for name in systems))
    for label, figure in rows:
        print(f"  {label:<{width}}  " + "  ".join(f"{figure(s):>18}" for s in systems.values()))
    if args.verbose:
        for name, score in systems.items():
            print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in score.per_trace.items()))
    figures: dict[str, dict[str, object]] = {
        name: {label: figure(score) for label, figure in rows} for name, score in systems.items()
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
