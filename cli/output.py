"""Rendering: JSON for machines (``--json``), short aligned tables for people."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click

__all__ = ["PhaseBars", "emit_json", "emit_json_line", "table", "truncate"]


def emit_json(value: Any) -> None:
    """Print one JSON document."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def emit_json_line(value: Any) -> None:
    """Print one compact JSON line (for streams such as ``log --json``)."""
    click.echo(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def truncate(text: str, width: int) -> str:
    """One line of at most *width* characters, with an ellipsis when cut."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows under headers, columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


class PhaseBars:
    """One click progress bar per phase on stderr: a ``progress(phase, n, total)`` callback.

    *labels* name the phases; an unknown phase is shown by its own name.
    """

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.bar: Any = None
        self.phase = ""

    def __call__(self, phase: str, n: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = click.progressbar(length=max(total, 1), label=self.labels.get(phase, phase), file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
