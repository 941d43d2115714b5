"""The `uptimerobot` collector: monitors in use against the plan's monitor limit."""
