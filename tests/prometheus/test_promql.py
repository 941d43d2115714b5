"""quota_watch.promql: metric names out of PromQL expressions."""

from __future__ import annotations

import pytest

from quota_watch.prometheus.promql import PromQLError, metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", ["up"]),
        ('quota_watch_usage_bytes{provider=~"$provider", limit="x"}', ["quota_watch_usage_bytes"]),
        (
            "sum by (provider, account) (rate(quota_watch_collector_failures_total[5m]))",
            ["quota_watch_collector_failures_total"],
        ),
        ("sum(a) by (group) / on(group) group_left(limit) b", ["a", "b"]),
        ("a * on(provider) group_left b", ["a", "b"]),
        ("max without (instance, job) (a) > bool 0.5", ["a"]),
        ('count(a{x="by (b)"} >= 0.8) or vector(0)', ["a"]),
        ("a offset 1h30m unless b @ 1609746000", ["a", "b"]),
        ("a @ start() - b @ end()", ["a", "b"]),
        ("max_over_time(a[$__rate_interval:1m]) + b[${__range}]", ["a", "b"]),
        ("time() - a", ["a"]),
        ("1e3 * a + 0x1F - Inf + NaN", ["a"]),
        ('label_replace(a, "dst", "$1", "src", "(.*)")', ["a"]),
        ('{__name__="a", job="x"} + {__name__=~"b.*"}', ["a"]),
        ('topk(3, a) or quantile(0.9, b) or count_values("v", c)', ["a", "b", "c"]),
        ("a + a + rec:rule:rate5m", ["a", "rec:rule:rate5m"]),
        ("# comment with metric_like words\na", ["a"]),
        ("sum by(le) (h_bucket)", ["h_bucket"]),
        ("a * on () group_right () b", ["a", "b"]),
        ("absent(nonexistent{job='x'})", ["nonexistent"]),
    ],
)
def test_metric_names(expr: str, names: list[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize("expr", ['a{x="unterminated}', "sum(a", "a)", "a[5m", "(a]"])
def test_malformed_expressions_raise(expr: str) -> None:
    with pytest.raises(PromQLError):
        metric_names(expr)
