"""What the dashboards are generated from: the collectors' catalogues and the rule pack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quota_watch.collect.catalog import Catalogue
from quota_watch.engine.rulepack import RulePack
from quota_watch.prometheus.dashboards.model import Threshold, percent_thresholds
from quota_watch.sdk import Unit

__all__ = ["Inputs"]


@dataclass(frozen=True)
class Inputs:
    """What the dashboards are generated from: catalogues by provider name, and the rule pack."""

    catalogues: Mapping[str, Catalogue]
    pack: RulePack

    @property
    def warning(self) -> float:
        """The threshold rule's warning ratio."""
        return self.pack.threshold.warning

    @property
    def critical(self) -> float:
        """The threshold rule's critical ratio."""
        return self.pack.threshold.critical

    def percent_steps(self) -> list[Threshold]:
        """Green / orange / red at the rule pack's warning and critical ratios."""
        return percent_thresholds(self.warning, self.critical)

    def limits_in(self, unit: Unit) -> list[str]:
        """`provider/limit` of every catalogued limit measured in `unit`."""
        return [
            f"{provider}/{key}"
            for provider, catalogue in sorted(self.catalogues.items())
            for key, spec in catalogue.limits.items()
            if spec.unit is unit
        ]
