"""Generated Grafana dashboards: export, --check, lint, PromQL validity (promtool), metric names."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.engine.rulepack import RulePack, ThresholdRule
from quota_watch.prometheus.dashboards.build import Inputs, build_all
from quota_watch.prometheus.dashboards.export import default_output_dir, load_inputs, render
from quota_watch.prometheus.exposition import (
    METRIC_HELP,
    PROCESS_METRICS,
    UNIT_SUFFIX,
    HeartbeatFacts,
    Snapshot,
    limit_metric,
    usage_metric,
)
from quota_watch.prometheus.exposition import render as render_metrics
from quota_watch.prometheus.promql import metric_names
from tests.support.promtool import promtool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
EXPECTED_UIDS = {
    "quota-watch-overview.json": "quota-watch-overview",
    "quota-watch-account.json": "quota-watch-account",
    "quota-watch-pools.json": "quota-watch-pools",
}
#: Series Prometheus itself makes (alerting rules' state, scrape health).
PROMETHEUS_OWN = {"ALERTS", "ALERTS_FOR_STATE", "up"}
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.*),\s*(?P<label>[a-zA-Z_]\w*)\)$")


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return render(load_inputs())


@pytest.fixture(scope="module")
def models(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in files.items()}


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


def expressions(model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every query: targets, annotations and variables' selectors."""
    for panel in walk(model["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for annotation in model["annotations"]["list"]:
        if "expr" in annotation:
            yield f"annotation {annotation['name']!r}", annotation["expr"]
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            match = _LABEL_VALUES.match(variable["definition"])
            assert match, f"variable {variable['name']}: not label_values(...)"
            yield f"variable {variable['name']!r}", match["selector"]


def substituted(expr: str) -> str:
    """The expression as Prometheus would receive it from Grafana (variables filled in)."""
    for name, value in (("__rate_interval", "5m"), ("__range", "1h"), ("__interval", "1m")):
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return re.sub(r"\$\{\w+\}|\$\w+", ".*", expr)


# --- the export command (drift: tests/test_generated.py) ------------------------------------


def test_default_output_is_the_checkout() -> None:
    assert default_output_dir() == DASHBOARDS


def test_export_and_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "boards"
    result = runner.invoke(app, ["dashboards", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED_UIDS)
    assert runner.invoke(app, ["dashboards", "export", "-o", str(out), "--check"]).exit_code == 0

    changed = out / "quota-watch-account.json"
    changed.write_text(changed.read_text().replace("Usage against cap", "Usage"))
    (out / "quota-watch-pools.json").unlink()
    result = runner.invoke(app, ["dashboards", "export", "-o", str(out), "--check"])
    assert result.exit_code == 1
    assert f"{changed}: differs" in result.output
    assert f"{out / 'quota-watch-pools.json'}: missing" in result.output
    assert "quota-watch-overview.json" not in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "quota-watch-account.json",
        "quota-watch-overview.json",
    ], "--check must write nothing"


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["dashboards", "export", "-o", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "cannot write" in result.output
    assert "Traceback" not in result.output


def test_exporting_twice_is_byte_identical(tmp_path: Path) -> None:
    runner = CliRunner()
    for sub in ("one", "two"):
        result = runner.invoke(app, ["dashboards", "export", "-o", str(tmp_path / sub)])
        assert result.exit_code == 0, result.output
    for name in EXPECTED_UIDS:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@settings(max_examples=25, deadline=None)
@given(
    warning=st.floats(0.05, 1.0),
    spread=st.floats(0.0, 1.0),
)
def test_thresholds_follow_the_rule_pack_and_builds_are_stable(
    warning: float, spread: float
) -> None:
    pack = RulePack(threshold=ThresholdRule(warning=warning, critical=warning + spread))
    inputs = Inputs(catalogues=load_inputs().catalogues, pack=pack)
    first, second = build_all(inputs), build_all(inputs)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    utilization = next(
        p for p in walk(first["quota-watch-account.json"]["panels"]) if p["title"] == "Utilization"
    )
    steps = utilization["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, warning, warning + spread]


# --- lint --------------------------------------------------------------------------------------


def test_uids_are_fixed_and_unique(models: dict[str, dict[str, Any]]) -> None:
    assert {name: m["uid"] for name, m in models.items()} == EXPECTED_UIDS
    assert len({m["uid"] for m in models.values()}) == len(models)


def test_dashboards_are_provisioning_friendly(models: dict[str, dict[str, Any]]) -> None:
    for name, model in models.items():
        assert "__inputs" not in model and "__requires" not in model, name
        assert model["schemaVersion"] >= 39, name
        assert model["title"] and model["description"], name
        datasource = model["templating"]["list"][0]
        assert (datasource["type"], datasource["name"], datasource["query"]) == (
            "datasource",
            "datasource",
            "prometheus",
        ), name
        text = json.dumps(model)
        # Every datasource reference goes through the variable (or is Grafana's own).
        uids = set(re.findall(r'"uid": "([^"]*)"', text)) - {model["uid"]}
        assert uids <= {"${datasource}", "-- Grafana --"}, (name, uids)


def test_every_panel_has_title_description_and_unit(models: dict[str, dict[str, Any]]) -> None:
    nested = 0
    for name, model in models.items():
        ids = []
        for panel in walk(model["panels"]):
            ids.append(panel["id"])
            assert panel["title"].strip(), (name, panel["id"])
            if panel["type"] == "row":
                nested += len(panel["panels"])
                continue
            where = (name, panel["title"])
            assert panel["description"].strip(), where
            assert panel["fieldConfig"]["defaults"]["unit"].strip(), where
            assert panel["gridPos"]["w"] > 0 and panel["gridPos"]["h"] > 0, where
            if panel["type"] != "text":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert panel["targets"], where
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    assert nested > 0, "expected collapsed rows with nested panels (the walk must reach them)"


def test_every_target_has_ref_id_and_expr(models: dict[str, dict[str, Any]]) -> None:
    for name, model in models.items():
        for panel in walk(model["panels"]):
            refs = [t["refId"] for t in panel.get("targets", [])]
            assert len(refs) == len(set(refs)), (name, panel["title"])
            for target in panel.get("targets", []):
                assert target["refId"] and target["expr"].strip(), (name, panel["title"])
                assert target["datasource"]["uid"] == "${datasource}"


def test_template_variables(models: dict[str, dict[str, Any]]) -> None:
    for name, model in models.items():
        variables = {v["name"]: v for v in model["templating"]["list"]}
        wanted = {"datasource", "provider", "account", "limit"}
        if name == "quota-watch-pools.json":
            wanted.add("group")
        assert set(variables) == wanted, name
        for var_name in wanted - {"datasource"}:
            variable = variables[var_name]
            assert variable["type"] == "query"
            assert variable["multi"] and variable["includeAll"], (name, var_name)
            assert variable["definition"].startswith("label_values("), (name, var_name)
            assert variable["definition"].endswith(f", {var_name})"), (name, var_name)
            assert variable["query"]["query"] == variable["definition"]


def test_variables_used_are_defined(models: dict[str, dict[str, Any]]) -> None:
    builtin = {"__rate_interval", "__range", "__interval"}
    for name, model in models.items():
        defined = {v["name"] for v in model["templating"]["list"]} | builtin
        for where, expr in expressions(model):
            used = set(re.findall(r"\$\{?(\w+)", expr))
            assert used <= defined, (name, where, used - defined)


def test_panels_do_not_overlap(models: dict[str, dict[str, Any]]) -> None:
    for name, model in models.items():
        taken: dict[tuple[int, int], str] = {}
        for panel in walk(model["panels"]):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (name, panel["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in taken, (name, panel["title"], taken.get((x, y)))
                    taken[(x, y)] = panel["title"]


def test_merged_tables_join_on_one_label_set(models: dict[str, dict[str, Any]]) -> None:
    # Grafana's merge joins rows on the columns every query returns: each query of a merged
    # table must reduce its series to the same labels, or rows stay apart.
    grouping = re.compile(r"(?:max|sum) by \(([^)]*)\)")
    for name, model in models.items():
        for panel in walk(model["panels"]):
            if not any(t["id"] == "merge" for t in panel.get("transformations", [])):
                continue
            label_sets = {frozenset(grouping.findall(t["expr"])) for t in panel["targets"]}
            assert len(label_sets) == 1 and all(label_sets), (name, panel["title"], label_sets)
            assert all(t["format"] == "table" and t["instant"] for t in panel["targets"])


def test_thresholds_come_from_the_default_rule_pack(models: dict[str, dict[str, Any]]) -> None:
    pack = load_inputs().pack
    overview = models["quota-watch-overview.json"]
    highest = next(p for p in walk(overview["panels"]) if p["title"] == "Highest utilization")
    steps = highest["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, pack.threshold.warning, pack.threshold.critical]
    table = next(p for p in walk(overview["panels"]) if p["title"] == "Limits by utilization")
    assert table["targets"][0]["expr"].startswith("sort_desc(")
    assert "quota_watch_utilization_ratio{" in table["targets"][0]["expr"]
    assert table["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_catalogue_limits_are_described(models: dict[str, dict[str, Any]]) -> None:
    inputs = load_inputs()
    overview = models["quota-watch-overview.json"]
    text = next(p for p in walk(overview["panels"]) if p["type"] == "text")
    content = text["options"]["content"]
    for provider, catalogue in inputs.catalogues.items():
        assert f"(`{provider}`)" in content
        for key in catalogue.limits:
            assert f"| `{key}` |" in content, (provider, key)


# --- PromQL ------------------------------------------------------------------------------------


def _all_expressions(models: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (f"{name}: {where}", expr)
        for name, model in models.items()
        for where, expr in expressions(model)
    ]


def check_rules(tmp_path: Path, exprs: list[str]) -> subprocess.CompletedProcess[str]:
    """promtool check rules on one recording rule per expression (it parses each one)."""
    rules = [{"record": f"dashboard_expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "exprs.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


def test_every_expression_parses(models: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    found = _all_expressions(models)
    assert len(found) > 40
    proc = check_rules(tmp_path, [substituted(expr) for _, expr in found])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(found)} rules found" in proc.stdout


def test_promtool_check_rejects_a_bad_expression(tmp_path: Path) -> None:
    proc = check_rules(tmp_path, ["sum(up", "up"])
    assert proc.returncode != 0


def exposed_metric_names() -> set[str]:
    """Every series name /metrics can carry, derived from quota_watch.prometheus.exposition."""
    # The exposed forms of counters (_total) and info metrics (_info) are the ones a render
    # declares even without samples; every other METRIC_HELP key is a gauge under its own name.
    rendered = render_metrics(Snapshot((), (), (), heartbeat=HeartbeatFacts(None, 0))).decode()
    declared = set(re.findall(r"^# TYPE (\S+) ", rendered, flags=re.MULTILINE))
    names: set[str] = set()
    for key in METRIC_HELP:
        forms = {f"{key}_total", f"{key}_info"} & declared
        names |= forms or {key}
    names |= {usage_metric(u) for u in UNIT_SUFFIX} | {limit_metric(u) for u in UNIT_SUFFIX}
    for name, (kind, _) in PROCESS_METRICS.items():
        names.add(f"{name}_total" if kind == "counter" else name)
    return names


def test_exposed_names_derivation() -> None:
    names = exposed_metric_names()
    assert "quota_watch_collector_failures_total" in names
    assert "quota_watch_collector_failures" not in names
    assert "quota_watch_account_info" in names and "quota_watch_account" not in names
    assert "quota_watch_usage_bytes" in names and "process_cpu_seconds_total" in names


def test_every_metric_is_one_the_exposition_defines(models: dict[str, dict[str, Any]]) -> None:
    known = exposed_metric_names() | PROMETHEUS_OWN
    unknown = {}
    for where, expr in _all_expressions(models):
        used = set(metric_names(expr))
        # A regex on __name__ is written as a plain alternation of names here.
        for alternation in re.findall(r'__name__=~"([^"]*)"', expr):
            used |= set(alternation.split("|"))
        if used - known:
            unknown[where] = sorted(used - known)
    assert unknown == {}


def test_every_exposed_quota_metric_family_is_used(models: dict[str, dict[str, Any]]) -> None:
    used = {name for _, expr in _all_expressions(models) for name in metric_names(expr)}
    for required in (
        "quota_watch_utilization_ratio",
        "quota_watch_forecast_utilization_ratio",
        "quota_watch_forecast_exhaustion_timestamp_seconds",
        "quota_watch_period_start_timestamp_seconds",
        "quota_watch_period_end_timestamp_seconds",
        "quota_watch_alerts_firing",
        "quota_watch_collector_success",
        "quota_watch_collector_last_success_timestamp_seconds",
        "quota_watch_collector_failures_total",
        "quota_watch_collector_duration_seconds",
        "quota_watch_collector_rate_limit_remaining",
        "quota_watch_account_info",
        "quota_watch_pool_shards",
        "quota_watch_pool_shards_recommended",
        "quota_watch_pool_utilization_ratio",
        "quota_watch_pool_forecast_utilization_ratio",
        *(usage_metric(u) for u in UNIT_SUFFIX),
        *(limit_metric(u) for u in UNIT_SUFFIX),
    ):
        assert required in used, required


# --- provisioning ------------------------------------------------------------------------------


def test_provisioning_files() -> None:
    boards = yaml.safe_load((PROVISIONING / "dashboards" / "quota-watch.yml").read_text())
    assert boards["apiVersion"] == 1
    (provider,) = boards["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["uid"] and source["isDefault"] is True
