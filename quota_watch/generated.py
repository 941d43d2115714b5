"""Every generated, committed file of the checkout, with what renders it: one drift check.

python -m quota_watch.generated            # rewrite every generated file
python -m quota_watch.generated --check    # exit 1 naming the stale ones
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from quota_watch.collect.limitsdoc import collector_readmes, render_collector_readme
from quota_watch.collect.registry import RegistryError
from quota_watch.config.errors import ConfigError
from quota_watch.config.example import render_example
from quota_watch.config.schema import SCHEMA_FILE, render_schema
from quota_watch.config.settings import PollingSettings
from quota_watch.engine.rulepack import load_rule_pack
from quota_watch.prometheus import metricsdoc
from quota_watch.prometheus.alertmanager import ALERTMANAGER_FILE, render_alertmanager_config
from quota_watch.prometheus.dashboards import export as dashboards
from quota_watch.prometheus.dashboards.build import ACCOUNT_UID, OVERVIEW_UID, POOLS_UID
from quota_watch.prometheus.rules import RULES_FILE, render_rule_file

__all__ = ["ARTEFACTS", "CHECKOUT", "Artefact", "artefact", "main", "stale", "write"]

CHECKOUT = Path(__file__).resolve().parents[1]
"""The source checkout this package runs from (the default root)."""


@dataclass(frozen=True)
class Artefact:
    """A generated file: its name, its path relative to the checkout, and its renderer."""

    name: str
    path: Path
    render: Callable[[], str]


def _rule_file() -> str:
    """The shipped rule pack at the default poll interval, as `quota-watch rules export`."""
    return render_rule_file(load_rule_pack(), interval=PollingSettings().interval)


@cache
def _dashboards() -> dict[str, str]:
    # One catalogue discovery for the three dashboard files.
    return dashboards.render(dashboards.load_inputs())


def _dashboard(file_name: str) -> Callable[[], str]:
    return lambda: _dashboards()[file_name]


def _metrics_doc() -> str:
    """docs/metrics.md of the checkout with its generated block rendered afresh."""
    document = metricsdoc.DOC_PATH.read_text(encoding="utf-8")
    return metricsdoc.replace_block(document, metricsdoc.generate())


def _collector_readme(readme: Path) -> Callable[[], str]:
    """A built-in collector's README with its limits table rendered from its limits.toml."""
    return lambda: render_collector_readme(readme)


ARTEFACTS: tuple[Artefact, ...] = (
    Artefact("config example", Path("config.example.toml"), render_example),
    Artefact("prometheus rules", Path("rules", "prometheus", RULES_FILE), _rule_file),
    Artefact(
        "alertmanager config",
        Path("deploy", "alertmanager", ALERTMANAGER_FILE),
        render_alertmanager_config,
    ),
    *(
        Artefact(f"dashboard {uid}", Path("dashboards", f"{uid}.json"), _dashboard(f"{uid}.json"))
        for uid in (OVERVIEW_UID, ACCOUNT_UID, POOLS_UID)
    ),
    Artefact("metrics reference", Path("docs", "metrics.md"), _metrics_doc),
    Artefact("config schema", Path(SCHEMA_FILE), render_schema),
    *(
        Artefact(
            f"limits table {readme.parent.name}",
            readme.relative_to(CHECKOUT),
            _collector_readme(readme),
        )
        for readme in collector_readmes(CHECKOUT)
    ),
)


def artefact(name: str) -> Artefact:
    """The registered artefact called `name` (KeyError when there is none)."""
    for found in ARTEFACTS:
        if found.name == name:
            return found
    raise KeyError(name)


def stale(root: Path) -> list[Artefact]:
    """The artefacts whose file under `root` is missing or differs from a fresh render.

    Raises RegistryError, ConfigError or metricsdoc.DocError when a render fails.
    """
    found: list[Artefact] = []
    for item in ARTEFACTS:
        try:
            current = (root / item.path).read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != item.render():
            found.append(item)
    return found


def write(root: Path) -> list[Path]:
    """Render every artefact into its file under `root`, atomically; returns the paths."""
    written: list[Path] = []
    for item in ARTEFACTS:
        target = root / item.path
        written.extend(dashboards.write(target.parent, {target.name: item.render()}))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite every generated file, or with --check list the stale ones and exit 1."""
    parser = argparse.ArgumentParser(
        prog="python -m quota_watch.generated",
        description="Rewrite the generated, committed files of the checkout: "
        + ", ".join(str(item.path) for item in ARTEFACTS)
        + ".",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming each file that is missing or stale",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=CHECKOUT,
        help="the checkout holding the files (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    try:
        if args.check:
            outdated = stale(root)
            for item in outdated:
                print(f"{root / item.path}: stale ({item.name})", file=sys.stderr)
            if outdated:
                print("run `python -m quota_watch.generated` to regenerate", file=sys.stderr)
                return 1
            print(f"{root}: {len(ARTEFACTS)} generated files up to date")
            return 0
        for path in write(root):
            print(f"wrote {path}")
    except (RegistryError, ConfigError, metricsdoc.DocError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
