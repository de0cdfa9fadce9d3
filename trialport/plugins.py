"""Find readers and exporters through entry points; built-ins register the same way as plugins."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from trialport.exporters.base import Exporter
from trialport.readers.base import Reader


@cache
def readers() -> tuple[Reader, ...]:
    """Installed readers, in sniffing order (lowest ``priority`` first)."""
    found = [ep.load()() for ep in entry_points(group="trialport.readers")]
    return tuple(sorted(found, key=lambda reader: (reader.priority, reader.name)))


@cache
def exporters() -> dict[str, type[Exporter]]:
    """Installed exporters by name."""
    return {ep.name: ep.load() for ep in sorted(entry_points(group="trialport.exporters"), key=lambda ep: ep.name)}
