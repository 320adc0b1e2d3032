"""Fixtures and helpers for the engine's tests: small journals, damage tools, child processes.

Tests import the installed `journal` distribution; nothing here reaches into the source
tree. Randomness is always seeded, and the seed is part of every failure message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from journal import Journal
from journal.layout import list_segments

#: Small enough that a few dozen events fill several segments.
SMALL_SEGMENT = 4096


@dataclass(frozen=True)
class Span:
    """Where one record line lives: its segment file, byte offset and length (without ``\\n``)."""

    path: Path
    offset: int
    length: int

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return f.read(self.length)


def record_spans(root: Path) -> dict[int, Span]:
    """Seq -> location of every newline-terminated line that starts with a readable seq."""
    from journal.storage.codec import peek_seq

    spans: dict[int, Span] = {}
    for _, path in list_segments(root):
        data = path.read_bytes()
        offset = 0
        for line in data.split(b"\n")[:-1]:
            seq = peek_seq(line)
            if seq is not None:
                spans[seq] = Span(path, offset, len(line))
            offset += len(line) + 1
    return spans


def payload_for(i: int) -> dict[str, Any]:
    """The payload the `filled` fixture gives seq *i* (so tests can predict any record)."""
    return {"i": i, "text": f"event {i} ✓ " + "x" * 32}


def fill(journal: Journal, n: int, start: int = 1) -> list[int]:
    """Append events ``start..start+n-1`` (type ``t<i%3>``, session ``s<i%2>``)."""
    return [journal.append(f"t{i % 3}", payload_for(i), session=f"s{i % 2}") for i in range(start, start + n)]


def make_writable(path: Path) -> None:
    """Sealed segments are 0400; tests that damage one on purpose unseal it first."""
    os.chmod(path, 0o600)


def run_python(code: str, *args: str, timeout: float = 60, check: bool = True,
               **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter of the same environment; fail loudly with its stderr."""
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"child exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture
def small_journal(journal_dir: Path) -> Journal:
    """A fresh journal that rolls its segment every 4 KiB (flush durability for speed)."""
    return Journal.open(journal_dir, segment_bytes=SMALL_SEGMENT, durability="flush")


@pytest.fixture
def filled(small_journal: Journal) -> Journal:
    """60 events over three segments: 1-25 and 26-50 sealed, 51-60 in the active one."""
    fill(small_journal, 60)
    segs = list_segments(small_journal.root)
    manifest = small_journal.manifest()
    assert [s.first_seq for s in manifest.segments] == [1, 26], manifest
    assert [first for first, _ in segs] == [1, 26, 51], segs
    return small_journal


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (``--import-mode=importlib`` cannot import conftest)."""
    return SimpleNamespace(
        Span=Span,
        SMALL_SEGMENT=SMALL_SEGMENT,
        record_spans=record_spans,
        payload_for=payload_for,
        fill=fill,
        make_writable=make_writable,
        run_python=run_python,
    )
