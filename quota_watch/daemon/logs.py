"""Logging set-up: plain text, one JSON object or one logfmt line per record, on stderr.

Structured fields travel as `extra=` keys of the call (account, provider, limit, alert,
notifier, ...): json and logfmt lines carry each as its own key; text shows the message only.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from quota_watch.daemon.logrepeats import RepeatFilter

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json", "logfmt")

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
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_LOGFMT_BARE = re.compile(r"^[^\s=\"\\]+$")


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of `record`, as JSON-ready values, in the order they were given."""
    fields: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_"):
            continue
        if value is None or isinstance(value, str | int | float | bool):
            fields[key] = value
        else:
            fields[key] = str(value)
    return fields


def _base(record: logging.LogRecord) -> dict[str, Any]:
    return {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a JSON line."""
        data = _base(record)
        for key, value in structured_fields(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def logfmt_value(value: Any) -> str:
    """One logfmt value: bare when it can be, else a double-quoted, escaped string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _LOGFMT_BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """One `key=value` line per record (time, level, logger, msg, then the extra fields)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a logfmt line."""
        data = _base(record)
        data["msg"] = data.pop("message")
        for key, value in structured_fields(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return " ".join(f"{key}={logfmt_value(value)}" for key, value in data.items())


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send quota-watch's logs to stderr at `level` in `fmt` ("text", "json" or "logfmt")."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "logfmt":
        handler.setFormatter(LogfmtFormatter())
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
