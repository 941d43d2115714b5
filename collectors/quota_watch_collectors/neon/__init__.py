"""Neon: per-project compute time, active time, storage and egress on the Free plan."""
