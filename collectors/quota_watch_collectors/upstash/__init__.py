"""Upstash: Redis databases (commands, data size, bandwidth) and QStash messages per day."""
