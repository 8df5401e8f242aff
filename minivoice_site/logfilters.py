"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class OneLineWarning(logging.Filter):
    """Turn a record into one WARNING line with no traceback.

    For client mistakes that Django reports as errors with a stack trace, such as a
    request for a host name we do not serve: worth a line, not a page, and not an alert.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = record.stack_info = None
        return True
