"""Fly.io: machines and volumes counted through the Machines API (no usage API exists)."""
