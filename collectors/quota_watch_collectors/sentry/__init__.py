"""The `sentry` collector: events accepted this billing month from Sentry's stats_v2 API."""
