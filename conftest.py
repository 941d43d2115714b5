"""Repository-wide pytest set-up: Hypothesis without per-example deadlines (CI machines are busy)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "quota-watch", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("quota-watch")
