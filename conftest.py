"""Repository-wide pytest set-up: Hypothesis without per-example deadlines (busy CI)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "quota-watch", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("quota-watch")
