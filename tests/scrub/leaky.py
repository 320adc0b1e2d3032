"""A realistic journal with a leaked secret in every kind of file, and its twin without it.

`build` generates a journal with `bench/_gen.py` (interleaved sessions, subagents,
small segments) where some records carry the secret: an extra ``leak`` field and the
start of some prompts. Its twin is generated the same way with the scrub marker in
place of the secret. The secret is exactly as long as the marker, so both journals
have the same bytes at the same offsets: after a scrub, the leaky journal must read
back exactly as its twin. Both are then compacted (the archive gets leaked records),
and each gets the same extra files: a spool file, a torn tail moved to quarantine, an
``errors.log`` line, projection caches, the search index and ``context --write`` files inside the
journal directory.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

from journal import Journal, NewEvent
from journal.compaction.scrub import Matcher
from journal.storage.writer import Writer

#: 28 characters, like its marker ``[REDACTED:scrubbed:<8 hex>]``.
SECRET = "quiet plover under red maple"
MARKER = Matcher(SECRET).marker(SECRET)
assert len(SECRET) == len(MARKER) == 28
NOW = 1_800_000_000.0  # 2027-01-15: every generated session is older than the horizon
SEGMENT = 64 * 1024


def _gen() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import _gen
    finally:
        sys.path.pop(0)
    return _gen


def _generate(root: Path, text: str, n: int) -> None:
    gen = _gen()
    original = gen.encode_record
    leak = json.dumps(text).encode()

    def leaky(seq: int, ts: str, type_: str, data: bytes, **kw: Any) -> bytes:
        if seq % 23 == 0:
            data = b'{"leak":' + leak + b"," + data[1:]
        if type_ == "UserPromptSubmit" and seq % 3 == 0:
            data = data.replace(b'"prompt":"', b'"prompt":"' + leak[1:-1] + b" ", 1)
        return original(seq, ts, type_, data, **kw)

    gen.encode_record = leaky
    try:
        gen.generate(root, n, sessions=10, seed=11, segment_bytes=SEGMENT)
    finally:
        gen.encode_record = original


def _extras(journal: Journal, text: str) -> None:
    """The secret in a spool file, a quarantined torn tail, errors.log, caches, context files."""
    from projections.compaction.compact import compact
    from projections.search.index import ensure_index
    from projections.read.memory_files import context_files, write_context_files
    from projections.runner import load_views
    from projections.read.liveness import Liveness

    compact(journal, older_than="7d", now=NOW, probe=lambda pid: None, warm_caches=False)
    root = journal.root
    # A torn tail holding the secret: the next append moves it to quarantine/.
    active = sorted((root / "segments").iterdir())[-1]
    with open(active, "ab") as f:
        f.write(b'{"seq":999999,"ts":"x","type":"note","v":1,"data":{"text":"' + text.encode() + b" torn")
    journal.append("note", {"text": "after the torn tail"}, ts="2026-12-01T00:00:00.000000Z")
    writer = Writer(root, journal.config)
    writer.spool([writer.encode(NewEvent("note", {"text": f"spooled {text}"}, "s-spool", None,
                                         "2026-12-01T00:00:01.000000Z"))])
    journal.log_error("hook_error", f"payload quoted: {text}")
    views = load_views(journal)  # saves the projection caches
    ensure_index(journal)  # the search index (SQLite): binary, holds every prompt
    live = Liveness(now=NOW, probe=lambda pid: None, stale_after=1800)
    write_context_files(root / "memory", context_files(views, live))


def build(root: Path, *, secret: bool = True, n: int = 1200) -> Journal:
    """The leaky journal (or, with ``secret=False``, its twin) at *root*."""
    text = SECRET if secret else MARKER
    _generate(root, text, n)
    journal = Journal.open(root, create=False, durability="flush")
    _extras(journal, text)
    return journal


def leaks(root: Path, text: str = SECRET) -> list[str]:
    """Files under *root* holding *text* raw or JSON-escaped (archives inflated), like ``grep -r``."""
    forms = {text.encode(), json.dumps(text)[1:-1].encode(), json.dumps(text, ensure_ascii=False)[1:-1].encode()}
    found = []
    for top, _, files in os.walk(root):
        for name in files:
            path = Path(top) / name
            data = path.read_bytes()
            if name.endswith(".gz"):
                data += gzip.decompress(data)
            if any(form in data for form in forms):
                found.append(str(path.relative_to(root)))
    return sorted(found)
