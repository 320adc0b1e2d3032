"""The manifest as typed objects: decoded and validated on read, encoded on write, and
rebuilt when it does not pass.

``manifest.json`` is derived data: every fact in it (sealed segments and their CRCs, the
archive files of compactions, the epoch) can be read again from the self-describing
segments and archive indexes. So a manifest that fails its schema (a flipped key such
as ``"name"`` -> ``"nale"``, a wrong type, a segment name that is not one) is not an
error to stop on: `ensure_manifest` rebuilds it (`journal.storage.manifest_rebuild`), keeps the
bad copy in ``quarantine/``, notes it in ``errors.log`` and says so once.

Everything off the hook's path reads the manifest with `load_manifest` (a `Manifest`,
attributes instead of ``["key"]``) and writes it with `save_manifest`. The hook's
writer cannot import msgspec: it seals segments and notes disk-full losses through the
stdlib dict view in `journal.layout` (`read_manifest`/`write_manifest`, the one place),
and both paths write through `journal.layout.manifest_bytes`, so the file is the same
bytes whichever wrote it. Unknown top-level keys are kept, so a newer writer's additions
survive an older reader's rewrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from journal.errors import InvalidManifest, JournalError
from journal.layout import LOCK_FILE, MANIFEST_FILE, MANIFEST_FORMAT, manifest_bytes, read_private, write_atomic
from journal.storage.segments import seal_info

__all__ = [
    "Manifest",
    "SegmentEntry",
    "ArchiveEntry",
    "SwapEntry",
    "SwapFileEntry",
    "DroppedEntry",
    "SeqRange",
    "decode_manifest",
    "encode_manifest",
    "load_manifest",
    "save_manifest",
    "empty_manifest",
    "segment_entry",
    "ensure_manifest",
]

Seq = Annotated[int, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
#: ``[first, last]``, both included (a list, as on disk, so ranges compare with lists).
SeqRange = Annotated[list[Seq], msgspec.Meta(min_length=2, max_length=2)]
SegmentName = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{20}\.jsonl$")]
#: A plain file name (no directory part): names in the manifest become paths.
FileName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=255)]
Crc = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{8}$")]


class SegmentEntry(msgspec.Struct):
    """A sealed segment: its seq range, record count, size and whole-file CRC
    (`journal.storage.segments.seal_info` makes its dict twin)."""

    name: SegmentName
    first_seq: Seq
    last_seq: Seq
    count: Count
    bytes: Count
    crc32: Crc


class ArchiveEntry(msgspec.Struct):
    """An archive file of a compaction (`journal.compaction.archive`)."""

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
    """A segment rename a committed compaction has still to make (None: the segment goes)."""

    segment: SegmentName
    staged: FileName | None = None


class SwapFileEntry(msgspec.Struct):
    """A rename or delete of any other file a committed scrub has still to make
    (*path* relative to the journal; *staged* None: delete it)."""

    path: str
    staged: str | None = None


class DroppedEntry(msgspec.Struct):
    """Events a full disk cost (`journal.storage.overflow`), noted by the append that recorded it."""

    events: Count
    bytes: Count = 0
    seq: Seq = 0
    first_ts: str = ""
    last_ts: str = ""
    reason: str = ""
    types: dict[str, int] = {}


class Manifest(msgspec.Struct, omit_defaults=True, dict=True):
    """The whole manifest. ``format``, ``journal_id``, ``segments``, ``epoch``,
    ``compacted`` and ``lost`` are always written; the other lists only when not empty."""

    format: Annotated[int, msgspec.Meta(ge=1)]
    journal_id: str
    segments: list[SegmentEntry]
    epoch: Count = 0
    compacted: list[SeqRange] = []
    lost: list[SeqRange] = []
    archive: list[ArchiveEntry] = []
    swap: list[SwapEntry] | None = None
    swap_files: list[SwapFileEntry] | None = None
    dropped: list[DroppedEntry] = []
    #: Top-level keys this code does not know (a newer writer's), written back as they
    #: were; set per instance by `decode_manifest` (``dict=True`` allows it), never encoded.
    _extra: ClassVar[dict[str, Any]] = {}

    @property
    def holes(self) -> list[list[int]]:
        """The compacted and the lost seq ranges: seqs no reader will find."""
        return self.compacted + self.lost

    @property
    def last_sealed_seq(self) -> int:
        """The last seq of the newest sealed segment (0: none sealed)."""
        return max([s.last_seq for s in self.segments] + [0])


_DECODER = msgspec.json.Decoder(Manifest)
_KEYS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_FIELDS = frozenset(Manifest.__struct_fields__)
_ALWAYS = {"epoch": 0, "compacted": [], "lost": []}  # what new journals have always written


def decode_manifest(raw: bytes, path: Path) -> Manifest:
    """The manifest in *raw*, or `InvalidManifest` naming *path* and the field that is wrong."""
    try:
        manifest = _DECODER.decode(raw)
        extra = {k: v for k, v in _KEYS.decode(raw).items() if k not in _FIELDS}
    except msgspec.ValidationError as e:
        raise InvalidManifest(f"{path} is not a valid manifest: {e}") from e
    except msgspec.DecodeError as e:
        raise InvalidManifest(f"{path} is not valid JSON: {e}") from e
    if extra:  # a newer writer's keys: written back as they were
        setattr(manifest, "_extra", {k: msgspec.json.decode(v) for k, v in extra.items()})  # noqa: B010 - a ClassVar to mypy
    return manifest


def encode_manifest(manifest: Manifest) -> bytes:
    """The bytes of ``manifest.json`` for *manifest* (the same the stdlib writer makes)."""
    doc: dict[str, Any] = manifest._extra | msgspec.to_builtins(manifest)
    for key, empty in _ALWAYS.items():
        doc.setdefault(key, empty)
    return manifest_bytes(doc)


def empty_manifest(journal_id: str = "") -> Manifest:
    """A manifest with nothing sealed (a missing file reads as this, with no id)."""
    return Manifest(format=MANIFEST_FORMAT, journal_id=journal_id, segments=[])


def segment_entry(path: Path, first_seq: int) -> SegmentEntry:
    """The entry of the sealed segment *path* as its bytes describe it (`seal_info`)."""
    return SegmentEntry(**seal_info(path, first_seq))


def load_manifest(root: Path) -> Manifest:
    """The manifest of the journal at *root*; a missing one reads as empty (no journal id).
    An invalid one raises `InvalidManifest` (`ensure_manifest` rebuilds it)."""
    path = root / MANIFEST_FILE
    try:
        raw = read_private(path)
    except FileNotFoundError:
        return empty_manifest()
    return decode_manifest(raw, path)


def save_manifest(root: Path, manifest: Manifest) -> None:
    """Atomically replace the manifest (the commit point of rolls, repairs and compactions)."""
    write_atomic(root / MANIFEST_FILE, encode_manifest(manifest))


def ensure_manifest(root: Path, *, lock_timeout: float = 10.0) -> str | None:
    """Check the manifest of the journal at *root*; rebuild an invalid one from the segments.

    Returns one line saying what was rebuilt (to show once), or None when the manifest
    was sound or absent. Runs the rebuild under the append lock.
    """
    from journal.storage.locking import JournalLock
    from journal.storage.manifest_rebuild import rebuild_manifest

    path = root / MANIFEST_FILE
    try:
        decode_manifest(read_private(path), path)
        return None
    except FileNotFoundError:
        return None
    except InvalidManifest:
        pass
    try:
        with JournalLock(root / LOCK_FILE, lock_timeout):
            try:  # another process may have rebuilt it while we waited
                decode_manifest(read_private(path), path)
                return None
            except InvalidManifest as e:
                problem = str(e)
            return rebuild_manifest(root, problem)
    except OSError as e:
        raise JournalError(f"{path} is invalid and could not be rebuilt: {e.strerror or e}") from e
