"""The creation time stamped into outputs whose standard asks for one (XPT headers, Define-XML, the
workbook's properties): one moment per run, so every file of a run agrees, and ``SOURCE_DATE_EPOCH``
(seconds since 1970, as reproducible builds set it) when given, so that re-running gives the same bytes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def run_moment(started: datetime | None = None) -> str:
    """The run's creation time as ISO 8601 (UTC, seconds): ``SOURCE_DATE_EPOCH`` if set, else ``started``."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else started or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def created(options: Mapping[str, Any]) -> datetime:
    """The creation time an exporter stamps: the run's (option ``created``), else ``run_moment()``."""
    return datetime.fromisoformat(options.get("created") or run_moment())
