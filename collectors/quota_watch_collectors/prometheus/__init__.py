"""Prometheus collector: PromQL instant queries against any Prometheus-compatible API."""
