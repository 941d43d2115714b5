"""docs/metrics.md: the table comes from a real render; the sizing render is promtool-clean."""

from __future__ import annotations

import pytest

from quota_watch.prometheus.exposition import render
from quota_watch.prometheus.metricsdoc import (
    BEGIN,
    END,
    DocError,
    evaluate,
    generate,
    parse_families,
    replace_block,
    sizing_snapshot,
)
from tests.support.promtool import check_metrics


def test_series_counts_come_from_the_render() -> None:
    families = parse_families(render(sizing_snapshot()).decode())
    assert families["quota_watch_utilization_ratio"].series == 400
    assert families["quota_watch_utilization_ratio"].optional_labels == ("resource",)
    assert families["quota_watch_collector_runs_total"].kind == "counter"
    assert families["quota_watch_alerts_firing"].labels == ("severity",)
    assert "| `quota_watch_usage_bytes` | gauge | bytes |" in generate()


def test_formula_evaluation() -> None:
    assert evaluate("A*Sp", {"A": 100, "Sp": 3}) == 300
    assert evaluate("3", {}) == 3


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(DocError, match="markers"):
        replace_block("no markers here", f"{BEGIN}\n{END}\n")


def test_sizing_render_is_promtool_clean() -> None:
    assert check_metrics(render(sizing_snapshot())) == ""
