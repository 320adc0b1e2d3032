"""The manifest's schema, checked on read, and its rebuild when it does not pass.

``manifest.json`` is derived data: every fact in it (sealed segments and their CRCs, the
archive files of compactions, the epoch) can be read again from the self-describing
segments and archive indexes. So a manifest that fails its schema (a flipped key such
as ``"name"`` -> ``"nale"``, a wrong type, a segment name that is not one) is not an
error to stop on: `ensure_manifest` rebuilds it (`journal.storage.manifest_rebuild`), keeps the
bad copy in ``quarantine/``, notes it in ``errors.log`` and says so once.

The schema is a set of msgspec Structs (the hook path never imports this module: it
checks only what it uses, in `journal.layout.read_manifest`). Unknown keys are allowed
and kept, so a newer writer's additions survive an older reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec

from journal.errors import InvalidManifest, JournalError
from journal.layout import LOCK_FILE, MANIFEST_FILE, read_private

__all__ = ["Manifest", "SegmentEntry", "ArchiveEntry", "check_manifest", "ensure_manifest"]

Seq = Annotated[int, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
SegmentName = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{20}\.jsonl$")]
#: A plain file name (no directory part): names in the manifest become paths.
FileName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=255)]
Crc = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{8}$")]


class SegmentEntry(msgspec.Struct):
    """A sealed segment: its seq range, record count, size and whole-file CRC."""

    name: SegmentName
    first_seq: Seq
    last_seq: Seq
    count: Count
    bytes: Count
    crc32: Crc


class ArchiveEntry(msgspec.Struct):
    """An archive file of a compaction (`journal.storage.archive`)."""

    name: FileName
    segment: SegmentName
    epoch: Count
    first_seq: Seq
    last_seq: Seq
    count: Count
    bytes: Count
    crc32: Crc
    raw_bytes: Count = 0
    index: FileName | None = None


class SwapEntry(msgspec.Struct):
    """A rename a committed compaction has still to make."""

    segment: SegmentName
    staged: FileName | None = None


class DroppedEntry(msgspec.Struct):
    """Events a full disk cost (`journal.storage.overflow`), noted by the append that recorded it."""

    events: Count
    bytes: Count = 0
    seq: Seq = 0
    first_ts: str = ""
    last_ts: str = ""
    reason: str = ""
    types: dict[str, int] = {}


class Manifest(msgspec.Struct):
    """The whole manifest."""

    format: Annotated[int, msgspec.Meta(ge=1)]
    journal_id: str
    segments: list[SegmentEntry]
    epoch: Count = 0
    compacted: list[tuple[Seq, Seq]] = []
    lost: list[tuple[Seq, Seq]] = []
    archive: list[ArchiveEntry] = []
    swap: list[SwapEntry] | None = None
    dropped: list[DroppedEntry] = []


_DECODER = msgspec.json.Decoder(Manifest)


def check_manifest(raw: bytes, path: Path) -> dict[str, Any]:
    """The manifest in *raw* as a dict (unknown keys kept), or `InvalidManifest` saying what is wrong."""
    try:
        _DECODER.decode(raw)
        doc = msgspec.json.decode(raw)
    except msgspec.ValidationError as e:
        raise InvalidManifest(f"{path} is not a valid manifest: {e}") from e
    except msgspec.DecodeError as e:
        raise InvalidManifest(f"{path} is not valid JSON: {e}") from e
    doc.setdefault("compacted", [])
    doc.setdefault("lost", [])
    doc.setdefault("epoch", 0)
    return doc  # type: ignore[no-any-return]


def ensure_manifest(root: Path, *, lock_timeout: float = 10.0) -> str | None:
    """Check the manifest of the journal at *root*; rebuild an invalid one from the segments.

    Returns one line saying what was rebuilt (to show once), or None when the manifest
    was sound or absent. Runs the rebuild under the append lock.
    """
    from journal.storage.locking import JournalLock
    from journal.storage.manifest_rebuild import rebuild_manifest

    path = root / MANIFEST_FILE
    try:
        check_manifest(read_private(path), path)
        return None
    except FileNotFoundError:
        return None
    except InvalidManifest:
        pass
    try:
        with JournalLock(root / LOCK_FILE, lock_timeout):
            try:  # another process may have rebuilt it while we waited
                check_manifest(read_private(path), path)
                return None
            except InvalidManifest as e:
                problem = str(e)
            return rebuild_manifest(root, problem)
    except OSError as e:
        raise JournalError(f"{path} is invalid and could not be rebuilt: {e.strerror or e}") from e
