"""Prometheus: metric names, exposition, generated alert rules, dashboards and the metrics doc."""
