"""Grafana Cloud: active series, logs and traces against the free allowance."""
