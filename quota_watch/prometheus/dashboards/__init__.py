"""Grafana dashboards generated from the collector catalogue and the rule pack."""
