"""The status page and its JSON API, served by the daemon beside /metrics."""
