"""docker-compose.yml and deploy/prometheus/prometheus.yml: structure, mounts that exist in the
repository, the listen override, and `promtool check config` with the real rules file.

No image can be pulled here, so the stack itself is not started; these checks catch what can be
wrong without it (a typo in a path, a port or a service name).
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from quota_watch.config.load import load_config
from quota_watch.prometheus.rules import RULES_FILE
from tests.support.promtool import promtool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def binds(service: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Bind mounts by target: (source, long-syntax options); named volumes left out."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *_ = volume.split(":")
            if source.startswith((".", "/")):
                out[target] = (source, {})
        elif volume["type"] == "bind":
            out[volume["target"]] = (volume["source"], volume)
    return out


def test_services_and_loopback_ports() -> None:
    services = compose()["services"]
    assert set(services) == {"quota-watch", "prometheus", "alertmanager", "grafana"}
    for name, service in services.items():
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), (name, port)
        assert service["restart"] == "unless-stopped"
        assert "mem_limit" in service, name
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert services["alertmanager"]["image"].startswith("prom/alertmanager:")


def test_prometheus_sends_to_the_stacks_alertmanager_with_its_inhibitions() -> None:
    services = compose()["services"]
    alerting = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))["alerting"]
    [target] = alerting["alertmanagers"][0]["static_configs"][0]["targets"]
    host, _, port = target.partition(":")
    assert host in services and port == "9093"
    source, _ = binds(services["alertmanager"])["/etc/alertmanager/alertmanager.yml"]
    assert (ROOT / source).is_file()
    assert "inhibit_rules" in (ROOT / source).read_text(encoding="utf-8")


def test_daemon_is_built_here_and_listens_on_all_interfaces_in_the_container() -> None:
    daemon = compose()["services"]["quota-watch"]
    assert daemon["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    listen = daemon["environment"]["QUOTA_WATCH_SERVER__LISTEN"]
    assert listen == "0.0.0.0:9877"
    # The variable name is the settings' real key, and it wins over the copied example file.
    config = load_config(ROOT / "config.example.toml", env={"QUOTA_WATCH_SERVER__LISTEN": listen})
    assert config.settings.server.listen == listen
    assert daemon["ports"] == ["127.0.0.1:9877:9877"]


def test_bind_mounts_exist_in_the_repository() -> None:
    for name, service in compose()["services"].items():
        for target, (source, options) in binds(service).items():
            if source == "./quota-watch.toml":  # the operator's own config, never committed
                assert options["bind"]["create_host_path"] is False
                assert target == "/etc/quota-watch/config.toml"
                assert "cp config.example.toml quota-watch.toml" in COMPOSE.read_text()
                continue
            assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"


def test_prometheus_mounts_its_config_and_the_generated_rules() -> None:
    mounts = binds(compose()["services"]["prometheus"])
    assert mounts["/etc/prometheus/prometheus.yml"][0] == "./deploy/prometheus/prometheus.yml"
    rules_source, _ = mounts["/etc/prometheus/rules"]
    assert (ROOT / rules_source / RULES_FILE).is_file()
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "quota-watch"]
    assert job["static_configs"] == [{"targets": ["quota-watch:9877"]}]


def test_grafana_mounts_dashboards_where_its_provisioning_looks() -> None:
    services = compose()["services"]
    mounts = binds(services["grafana"])
    assert mounts["/var/lib/grafana/dashboards"][0] == "./dashboards"
    assert mounts["/etc/grafana/provisioning"][0] == "./deploy/grafana/provisioning"
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "quota-watch.yml").read_text())
    assert {p["options"]["path"] for p in providers["providers"]} == {"/var/lib/grafana/dashboards"}
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    [prom] = [d for d in sources["datasources"] if d["type"] == "prometheus"]
    url = urlsplit(prom["url"])
    assert url.hostname in services and url.port == 9090


def test_promtool_accepts_the_prometheus_config_with_the_real_rules(tmp_path: Path) -> None:
    text = PROMETHEUS.read_text(encoding="utf-8")
    assert "/etc/prometheus/rules/*.yml" in text
    # The container path, pointed at the repository's directory it mounts.
    local = tmp_path / "prometheus.yml"
    local.write_text(text.replace("/etc/prometheus/rules", str(ROOT / "rules" / "prometheus")))
    proc = subprocess.run(
        [promtool(), "check", "config", str(local)], capture_output=True, text=True, timeout=60
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "SUCCESS: 1 rule files found" in output
    assert f"{RULES_FILE}\n  SUCCESS" in output


def fenced(markdown: Path, after: str, language: str) -> str:
    """The first ```language block after the heading `after` in `markdown`."""
    text = markdown.read_text(encoding="utf-8")
    start = text.index(after)
    match = re.search(rf"```{language}\n(.*?)```", text[start:], re.S)
    assert match is not None, f"{markdown.name}: no {language} block after {after!r}"
    return match.group(1)


def test_grafana_cloud_agent_config_is_valid(tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text(fenced(ROOT / "docs" / "grafana-cloud.md", "## 2b.", "yaml"))
    assert "password_file:" in config.read_text() and "password:" not in config.read_text()
    proc = subprocess.run(
        [promtool(), "check", "config", "--agent", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_grafana_cloud_mimir_file_keeps_the_groups() -> None:
    # docs/grafana-cloud.md prepends a namespace line for mimirtool.
    text = "namespace: quota-watch\n" + (ROOT / "rules" / "prometheus" / RULES_FILE).read_text()
    data = yaml.safe_load(text)
    assert set(data) == {"namespace", "groups"}
    assert data["groups"][0]["name"] == "quota-watch"


def test_readme_prometheus_snippet_loads_the_rules(tmp_path: Path) -> None:
    snippet = fenced(ROOT / "README.md", "## Prometheus alert rules", "yaml")
    snippet = textwrap.dedent(snippet).replace(
        "/etc/prometheus/rules", str(ROOT / "rules" / "prometheus")
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(snippet)
    proc = subprocess.run(
        [promtool(), "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 1 rule files found" in proc.stdout + proc.stderr
