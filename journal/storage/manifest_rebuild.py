"""Making ``manifest.json`` again from what the journal directory says about itself.

The segments are self-describing (each record carries its seq; a file's name is its
first seq; a read-only segment is sealed), and so are the compactions' archive indexes
(each holds its own manifest entry). So a manifest that is invalid is rebuilt, never
trusted and never a dead end:

* every segment but the last, and a read-only last one, is sealed (`seal_info`);
* each archive whose index and file are both present is listed again;
* a seq hole between live records that an archive covers is ``compacted``; other holes
  stay unexplained, so `verify` reports them (a repair records them as lost);
* the journal id and epoch are kept when the old file still holds them, and the epoch
  is bumped past every archive's, so projection caches rebuild.

Call with the append lock held. Stdlib only: the hook's writer rebuilds too.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from journal.storage.codec import check_line, peek_seq
from journal.layout import ARCHIVE_DIR, MANIFEST_FILE, list_segments, new_manifest, read_private, write_manifest
from journal.errorlog import log_error
from journal.storage.segments import quarantine, seal_info

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["rebuild_manifest"]

_ARCHIVE_KEYS = ("name", "segment", "epoch", "first_seq", "last_seq", "count", "bytes", "raw_bytes", "crc32", "index")


def _live_seqs(path: Path, dropped: list[dict[str, Any]]) -> list[int]:
    """The seqs of the valid records in the segment *path*; its disk-full losses go to *dropped*."""
    seqs = []
    for line in read_private(path).split(b"\n"):
        record = line.lstrip(b"\0")
        if record and check_line(record):
            seq = peek_seq(record)
            if seq is not None:
                seqs.append(seq)
                if b'"type":"journal.events_lost"' in record:
                    try:
                        data = json.loads(record[: record.rindex(b',"crc"')] + b"}")["data"]
                        dropped.append({**{k: v for k, v in data.items() if k != "reason"}, "seq": seq,
                                        "reason": "disk full"})
                    except (ValueError, KeyError, TypeError, AttributeError):
                        pass
    return seqs


def _archives(root: Path) -> list[dict[str, Any]]:
    directory = root / ARCHIVE_DIR
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        if not name.endswith(".index.json") or name.startswith("."):
            continue
        try:
            doc = json.loads(read_private(directory / name))
            entry = {k: doc[k] for k in _ARCHIVE_KEYS if k in doc}
            if (entry.get("index") == name and isinstance(entry.get("name"), str) and "/" not in entry["name"]
                    and os.path.isfile(directory / entry["name"])
                    and all(isinstance(entry.get(k), int) for k in ("epoch", "first_seq", "last_seq"))):
                out.append(entry)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not an index of ours: verify lists the file as a leftover
        except Exception:  # a planted link (JournalPermissionError) is skipped too
            continue
    return sorted(out, key=lambda e: (e["epoch"], e["name"]))


def _holes(seqs: list[int]) -> list[list[int]]:
    holes = []
    expected = 1
    for seq in seqs:
        if seq > expected:
            holes.append([expected, seq - 1])
        expected = max(expected, seq + 1)
    return holes


def rebuild_manifest(root: Path, problem: str) -> str:
    """Replace the invalid manifest of the journal at *root* (the bad copy goes to
    ``quarantine/``); return one line saying what happened. *problem* says what was wrong."""
    path = root / MANIFEST_FILE
    old: Any = None
    try:
        raw = read_private(path)
    except OSError:
        raw = b""
    try:
        old = json.loads(raw)
    except ValueError:
        pass
    kept = quarantine(root, f"{MANIFEST_FILE}.{time.time_ns()}.invalid", raw) if raw else None
    manifest = new_manifest()
    if isinstance(old, dict) and isinstance(old.get("journal_id"), str) and old["journal_id"]:
        manifest["journal_id"] = old["journal_id"]
    segments = list_segments(root)
    seqs: list[int] = []
    dropped: list[dict[str, Any]] = []
    for i, (first, segment) in enumerate(segments):
        if i < len(segments) - 1 or not os.lstat(segment).st_mode & 0o200:
            manifest["segments"].append(seal_info(segment, first))
        seqs.extend(_live_seqs(segment, dropped))
    if dropped:
        manifest["dropped"] = dropped
    archives = _archives(root)
    if archives:
        manifest["archive"] = archives
    spans: list[list[int]] = []
    for a, b in sorted((a["first_seq"], a["last_seq"]) for a in archives):
        if spans and a <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    manifest["compacted"] = [h for h in _holes(sorted(set(seqs)))
                             if any(a <= h[0] and h[1] <= b for a, b in spans)]
    old_epoch = old.get("epoch") if isinstance(old, dict) else None
    epochs = [e["epoch"] for e in archives] + [old_epoch if isinstance(old_epoch, int) else 0]
    manifest["epoch"] = max(epochs) + 1
    write_manifest(root, manifest)
    problem = problem[len(str(path)) + 1:] if problem.startswith(f"{path} ") else problem
    message = (f"{path} {problem}; rebuilt it from the segments"
               + (f" (the old copy is in {kept})" if kept else ""))
    log_error(root, "manifest_rebuilt", message, segments=len(manifest["segments"]),
              archives=len(archives), quarantine=str(kept) if kept else None)
    return message
