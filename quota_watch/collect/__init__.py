"""Collecting: collector registry and catalogue, periods, runtimes, poller and scheduler."""
