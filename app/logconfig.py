"""Logging set-up; the only place that configures handlers."""

from __future__ import annotations

import json
import logging
import logging.config

from .config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        body = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Configure the root logger from settings."""
    formatter = (
        {"()": JsonFormatter}
        if settings.log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"main": formatter},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main"}},
            "root": {"level": settings.log_level, "handlers": ["console"]},
        }
    )
