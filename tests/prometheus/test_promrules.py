"""The generated Prometheus alert rules: export, promtool's verdict and unit tests, names,
annotations, runbook anchors and the metrics the expressions read."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.config.settings import PollingSettings
from quota_watch.engine.rulepack import load_rule_pack, parse_rule_pack
from quota_watch.engine.state import ALERTNAMES
from quota_watch.model import AccountStatus
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ForecastFacts,
    HeartbeatFacts,
    PoolFacts,
    PoolLimitFacts,
    Snapshot,
    render,
)
from quota_watch.prometheus.metarules import META_ALERT_NAMES, META_GROUP_NAME
from quota_watch.prometheus.promql import metric_names
from quota_watch.prometheus.rules import (
    DEFAULT_RUNBOOK_URL,
    RULES_FILE,
    SHARD_ALERT,
    alert_rules,
    default_output_dir,
    prometheus_duration,
    render_rule_file,
)
from quota_watch.store.models import StoredReading
from tests.support.promtool import promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "prometheus" / RULES_FILE
UNIT_TESTS = sorted((ROOT / "rules" / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

runner = CliRunner()


def committed_groups() -> dict[str, list[dict[str, Any]]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return {group["name"]: group["rules"] for group in document["groups"]}


def committed_rules() -> list[dict[str, Any]]:
    """The engine's alerts (group quota-watch)."""
    return committed_groups()["quota-watch"]


def every_committed_rule() -> list[dict[str, Any]]:
    return [rule for rules in committed_groups().values() for rule in rules]


def default_export() -> str:
    return render_rule_file(load_rule_pack(), interval=PollingSettings().interval)


# --- the export command (drift: tests/test_generated.py) ------------------------------------


def test_default_output_is_the_checkout() -> None:
    assert default_output_dir() == RULES.parent


def test_check_passes_on_the_checkout() -> None:
    result = runner.invoke(app, ["rules", "export", "--check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_check_names_a_differing_or_missing_file(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["rules", "export", "--check", "-o", str(tmp_path)])
    assert missing.exit_code == 1
    assert str(tmp_path / RULES_FILE) in missing.output and "missing" in missing.output
    (tmp_path / RULES_FILE).write_text(default_export().replace("0.8", "0.75"), encoding="utf-8")
    differs = runner.invoke(app, ["rules", "export", "--check", "-o", str(tmp_path)])
    assert differs.exit_code == 1
    assert str(tmp_path / RULES_FILE) in differs.output and "differs" in differs.output
    assert "Traceback" not in differs.output


def test_export_writes_the_directory_or_prints(tmp_path: Path) -> None:
    target = tmp_path / "new" / "rules"
    written = runner.invoke(app, ["rules", "export", "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert (target / RULES_FILE).read_text(encoding="utf-8") == default_export()
    assert runner.invoke(app, ["rules", "export", "--check", "-o", str(target)]).exit_code == 0
    printed = runner.invoke(app, ["rules", "export", "-o", "-"])
    assert printed.exit_code == 0
    assert printed.stdout == default_export()
    assert runner.invoke(app, ["rules", "export", "--check", "-o", "-"]).exit_code == 2


def test_export_follows_the_configs_rule_pack_and_interval(tmp_path: Path) -> None:
    pack = tmp_path / "pack.toml"
    pack.write_text("[threshold]\nwarning = 0.7\nfor_runs = 3\n[forecast]\nenabled = false\n")
    config = tmp_path / "qw.toml"
    config.write_text(
        f'[polling]\ninterval = "2m"\n[alerts]\nrule_pack = "{pack}"\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\n'
    )
    result = runner.invoke(
        app,
        ["rules", "export", "-o", "-", "-c", str(config), "--runbook-url-base", "https://x/rb.md"],
    )
    assert result.exit_code == 0, result.output
    rules = {r["alert"]: r for r in yaml.safe_load(result.stdout)["groups"][0]["rules"]}
    assert "QuotaPredictedFull" not in rules
    almost = rules["QuotaAlmostFull"]
    assert almost["for"] == "4m"  # (3 - 1) polls x 2m
    assert "quota_watch_utilization_ratio >= 0.7" in almost["expr"]
    assert almost["annotations"]["runbook_url"] == "https://x/rb.md#quotaalmostfull"
    assert str(pack) in result.stdout.splitlines()[1]


def test_a_broken_rule_pack_is_a_clear_error(tmp_path: Path) -> None:
    pack = tmp_path / "pack.toml"
    pack.write_text("[threshold]\nwarning = 2\ncritical = 1\n")
    config = tmp_path / "qw.toml"
    config.write_text(f'[alerts]\nrule_pack = "{pack}"\n')
    result = runner.invoke(app, ["rules", "export", "-o", "-", "-c", str(config)])
    assert result.exit_code == 2
    assert "warning (2) must not be above critical (1)" in result.output
    assert "Traceback" not in result.output


def test_cli_default_runbook_url_is_the_modules() -> None:
    help_text = runner.invoke(app, ["rules", "export", "--help"]).output
    assert re.sub(r"\s+", "", DEFAULT_RUNBOOK_URL) in re.sub(r"\s+", "", help_text)


# --- promtool -------------------------------------------------------------------------------


def test_promtool_check_rules_is_clean() -> None:
    proc = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(every_committed_rule())} rules found" in proc.stdout


def run_unit_tests(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "test", "rules", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS, "rules/tests/*.yml missing"
    proc = run_unit_tests(UNIT_TESTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "pack_toml",
    [
        "[threshold]\nwarning = 0.81\n",  # the 0.8 boundary case
        "[threshold]\ncritical = 0.9999\n",  # the warning/critical boundary
        "[threshold]\nfor_runs = 3\n",  # pending for longer
        "[forecast]\nfloor = 0.3\n",  # the floor guard
        "[forecast]\nfor_runs = 1\n",
        "[stale]\nafter_runs = 4\n",
        "[auth]\nenabled = false\n",  # the stale alert then covers rejected accounts too
        "[shard]\ntarget_utilization = 0.8\n",
    ],
)
def test_promtool_unit_tests_catch_a_changed_rule(tmp_path: Path, pack_toml: str) -> None:
    # The unit tests pin default.toml's values: a rule file from other values must fail them.
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "tests").mkdir()
    text = render_rule_file(parse_rule_pack(pack_toml), interval=PollingSettings().interval)
    (tmp_path / "prometheus" / RULES_FILE).write_text(text, encoding="utf-8")
    copies = [Path(shutil.copy(p, tmp_path / "tests")) for p in UNIT_TESTS]
    proc = run_unit_tests(copies)
    assert proc.returncode != 0, proc.stdout
    assert "FAILED" in proc.stdout + proc.stderr


# --- names, labels, annotations -------------------------------------------------------------


def test_alert_names_and_severities_mirror_the_engine() -> None:
    assert list(committed_groups()) == ["quota-watch", META_GROUP_NAME]
    assert [r["alert"] for r in committed_groups()[META_GROUP_NAME]] == list(META_ALERT_NAMES)
    rules = committed_rules()
    assert [r["alert"] for r in rules] == list(ALERTNAMES.values())
    assert SHARD_ALERT in ALERTNAMES.values()
    severity = {name: sev for (_kind, sev), name in ALERTNAMES.items()}
    for rule in rules:
        assert rule["labels"] == {"severity": severity[rule["alert"]]}, rule["alert"]


def test_every_rule_is_annotated_for_people() -> None:
    for rule in every_committed_rule():
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        assert all(annotations.values()), rule["alert"]
        assert "{{ $labels." in annotations["summary"] or "$labels" in annotations["summary"]
        assert "$labels." in annotations["description"], rule["alert"]
        # Always 1: rejected credentials, and a down daemon (up == 0 or absent() == 1).
        if rule["alert"] not in {"QuotaCollectorAuthFailed", "QuotaWatchDown"}:
            assert "{{ $value" in annotations["description"], rule["alert"]
        assert annotations["runbook_url"].startswith(DEFAULT_RUNBOOK_URL + "#")


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub gives the headings of `markdown` (lower case, punctuation dropped)."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def test_every_runbook_url_points_at_a_runbook_heading() -> None:
    anchors = github_anchors(RUNBOOK.read_text(encoding="utf-8"))
    for rule in every_committed_rule():
        anchor = rule["annotations"]["runbook_url"].rpartition("#")[2]
        assert anchor in anchors, f"{rule['alert']}: docs/runbook.md has no #{anchor}"


def full_exposition() -> set[str]:
    """Sample names of a render with every family the rules could read filled in."""
    reading = StoredReading(
        provider="cloudflare",
        account="cf-main",
        limit="workers_requests",
        resource=None,
        unit="count",
        measure="cumulative",
        value=80_000,
        cap=100_000,
        cap_source="catalogue",
        period_start=NOW.replace(hour=0),
        period_end=NOW.replace(hour=0) + timedelta(days=1),
        ts=NOW,
    )
    status = AccountStatus(
        provider="cloudflare",
        account="cf-main",
        last_run_at=NOW,
        last_success_at=NOW,
        last_outcome="success",
        last_error=None,
        last_duration_seconds=0.3,
        runs_total=10,
        failures_total=1,
        consecutive_failures=0,
    )
    snapshot = Snapshot(
        readings=[reading],
        statuses=[status],
        accounts=[AccountFacts("cloudflare", "cf-main", "edge-api", 300.0)],
        forecasts={("cf-main", "workers_requests", None): ForecastFacts(1.1, NOW)},
        pools=[
            PoolFacts(
                "cloudflare",
                "edge-api",
                1,
                [PoolLimitFacts("workers_requests", 0.8, 1.1, 2)],
            )
        ],
        notifications_sent={"slack": 3},
        notifications_failed={"slack": 1},
        outbox_depth={"slack": 1},
        heartbeat=HeartbeatFacts(last_success_at=NOW, failures_total=2),
    )
    names: set[str] = set()
    for family in text_string_to_metric_families(render(snapshot).decode()):
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_in_the_rules_is_exposed() -> None:
    exposed = full_exposition() | {"up"}  # `up` is Prometheus' own, per scrape target
    for rule in every_committed_rule():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert set(used) <= exposed, (rule["alert"], sorted(set(used) - exposed))


# --- the generator --------------------------------------------------------------------------


def test_disabled_kinds_are_left_out() -> None:
    off = "\nenabled = false\n"
    pack = parse_rule_pack(f"[threshold]{off}[stale]{off}[auth]{off}")
    names = [r.alert for r in alert_rules(pack, interval=timedelta(minutes=5))]
    assert names == ["QuotaPredictedFull", SHARD_ALERT]
    pack = parse_rule_pack(f"[forecast]{off}[shard]{off}")
    names = [r.alert for r in alert_rules(pack, interval=timedelta(minutes=5))]
    assert names == [
        "QuotaAlmostFull",
        "QuotaFullyUsed",
        "QuotaDataStale",
        "QuotaCollectorAuthFailed",
    ]


def test_stale_is_not_suppressed_by_a_disabled_auth_rule() -> None:
    enabled = alert_rules(load_rule_pack(), interval=timedelta(minutes=5))
    disabled = alert_rules(
        parse_rule_pack("[auth]\nenabled = false\n"), interval=timedelta(minutes=5)
    )
    stale = {r.alert: r.expr for r in enabled}["QuotaDataStale"]
    assert "collector_auth_failed" in stale
    assert "collector_auth_failed" not in {r.alert: r.expr for r in disabled}["QuotaDataStale"]


@pytest.mark.parametrize(
    ("for_runs", "interval", "expected"),
    [
        (1, timedelta(minutes=5), None),
        (2, timedelta(minutes=5), "5m"),
        (4, timedelta(hours=1), "3h"),
    ],
)
def test_for_runs_become_a_for_duration(
    for_runs: int, interval: timedelta, expected: str | None
) -> None:
    pack = parse_rule_pack(f"[threshold]\nfor_runs = {for_runs}\n")
    [almost] = [
        r.document(DEFAULT_RUNBOOK_URL)
        for r in alert_rules(pack, interval=interval)
        if r.alert == "QuotaAlmostFull"
    ]
    assert almost.get("for") == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=25), "1d1h"),
        (timedelta(days=7), "7d"),
    ],
)
def test_prometheus_duration(value: timedelta, text: str) -> None:
    assert prometheus_duration(value) == text


def test_prometheus_duration_refuses_fractions() -> None:
    with pytest.raises(ValueError, match="whole"):
        prometheus_duration(timedelta(milliseconds=1500))


def test_a_firing_alert_is_held_as_long_as_it_took_to_fire() -> None:
    rules = {r.alert: r for r in alert_rules(load_rule_pack(), interval=timedelta(minutes=5))}
    for name in ("QuotaAlmostFull", "QuotaFullyUsed", "QuotaPredictedFull"):
        assert rules[name].document(DEFAULT_RUNBOOK_URL)["keep_firing_for"] == "5m", name
    assert "keep_firing_for" not in rules["QuotaDataStale"].document(DEFAULT_RUNBOOK_URL)


def almost_annotations(account: str) -> dict[str, str]:
    series = f"{account} (host) disk_used"
    return {
        "summary": f"{series} is above 80 % of its free-tier cap",
        "description": f"{series} has used 90% of its cap (warning at 80 %, critical at "
        "100 %). Check what drives the usage with `quota-watch report` and act before the "
        "provider enforces the limit.",
        "runbook_url": f"{DEFAULT_RUNBOOK_URL}#quotaalmostfull",
    }


def test_each_account_interval_gets_its_own_for(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\nurl = "sqlite:///' + str(tmp_path / "db.sqlite") + '"\n'
        '[[accounts]]\nname = "fast"\ncollector = "host"\ninterval = "1m"\n'
        '[[accounts]]\nname = "slow"\ncollector = "host"\n'
    )
    result = runner.invoke(app, ["rules", "export", "-o", "-", "-c", str(config)])
    assert result.exit_code == 0, result.output
    [group, _meta] = yaml.safe_load(result.output)["groups"]
    almost = [r for r in group["rules"] if r["alert"] == "QuotaAlmostFull"]
    assert [(r["for"], r["keep_firing_for"]) for r in almost] == [("5m", "5m"), ("1m", "1m")]
    assert "quota_watch_collector_interval_seconds != 300" in almost[0]["expr"]
    assert "quota_watch_collector_interval_seconds == 60" in almost[1]["expr"]
    # promtool: the 1m account fires after 1m, the default one after 5m, never both rules.
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(result.output)
    tests_file = tmp_path / "test.yml"
    tests_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(rules_file)],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [
                            {
                                "series": 'quota_watch_utilization_ratio{provider="host",'
                                f'account="{name}",limit="disk_used"}}',
                                "values": "0.9x10",
                            }
                            for name in ("fast", "slow")
                        ]
                        + [
                            {
                                "series": 'quota_watch_collector_interval_seconds{provider="host",'
                                f'account="{name}"}}',
                                "values": f"{seconds}x10",
                            }
                            for name, seconds in (("fast", 60), ("slow", 300))
                        ],
                        "alert_rule_test": [
                            {
                                "eval_time": when,
                                "alertname": "QuotaAlmostFull",
                                "exp_alerts": [
                                    {
                                        "exp_labels": {
                                            "severity": "warning",
                                            "provider": "host",
                                            "account": name,
                                            "limit": "disk_used",
                                        },
                                        "exp_annotations": almost_annotations(name),
                                    }
                                    for name in firing
                                ],
                            }
                            for when, firing in (
                                ("0m", []),
                                ("1m", ["fast"]),
                                ("5m", ["fast", "slow"]),
                            )
                        ],
                    }
                ],
            }
        )
    )
    proc = subprocess.run(
        [promtool(), "test", "rules", str(tests_file)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
