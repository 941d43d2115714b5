"""Logging set-up: plain text or one JSON object per line, on stderr."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from quota_watch.logrepeats import RepeatFilter

# Libraries whose INFO lines are noise for an operator; httpx's also carry full URLs, and a
# query string may hold a credential.
_QUIET = (
    "httpx",
    "httpcore",
    "apscheduler",
    "uvicorn",
    "sqlalchemy",
    "aiosqlite",
    "asyncio",
    "alembic",
    "apprise",
    "urllib3",
    # at DEBUG botocore logs the SigV4 canonical request and signature (replayable)
    "botocore",
    "boto3",
    "aiobotocore",
    "s3transfer",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a JSON line."""
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send quota-watch's logs to stderr at `level` in `fmt` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(
            "%(asctime)sZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
