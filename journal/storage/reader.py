"""Reading the journal: stream events from any seq, with RocksDB-style recovery modes.

Framing makes damage easy to localise: every record is one line ending in its own
CRC, so a bad line costs only itself. What a reader does with damage depends on the
`RecoveryMode`:

============== ===================================== ========================================
mode           torn (unterminated) final line        bad record in the middle
============== ===================================== ========================================
tolerate       ignored (in flight or torn), reported skipped and reported (file, offset, seq)
point-in-time  ignored, reported                     reading stops there
strict         error                                 error
salvage        ignored, reported                     anything parseable is kept
============== ===================================== ========================================

Damage is never silent: every case is reported as a `Damage` to ``on_damage`` and
collected on the `Reader`. Reads take no lock; a reader stops at the last ``\\n``.

Speed: complete lines are checked in bulk (CRC per line, or once per sealed segment
against its manifest CRC, or per chunk against the segment's `journal.storage.crc_index`) and
then decoded with one ``decode_lines`` call per chunk; only a chunk with damage falls
back to a per-line loop (`journal.storage.reader_damage`). `Reader.chunks` hands those
per-chunk lists over as they are, for a consumer whose loop is the hot path.
"""

from __future__ import annotations

import os
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import msgspec

from journal.storage.codec import check_lines, crc32, peek_seq
from journal.storage.crc_index import ChunkIndex, IndexBuilder, load_index
from journal.storage.damage import Damage, RecoveryMode, SeqHoles, seq_ranges_cover
from journal.storage.events import EVENT_DECODER, Event
from journal.layout import list_segments, open_private
from journal.storage.manifest import Manifest, SegmentEntry, load_manifest
from journal.storage.reader_damage import DamageHandling, _Stop

__all__ = ["RecoveryMode", "Damage", "LineDecoder", "Reader", "read_events", "seq_ranges_cover", "SeqHoles"]

#: Bytes per read. A chunk's lines are decoded at once and then consumed: 256 KiB and the
#: objects decoded from it stay in a core's L2 cache until used (1 MiB did not: three
#: times the L2 misses in cachegrind, slower rebuilds under load); a whole-file CRC is as
#: fast in 256 KiB reads as in 1 MiB ones.
_CHUNK = 256 * 1024


#: An event's seq, read in C over a chunk (a list comprehension costs a bytecode loop).
_SEQ = attrgetter("seq")


class LineDecoder(Protocol):
    """What `Reader.chunks` decodes a chunk with: ``decode_lines`` of a msgspec JSON decoder."""

    def decode_lines(self, buf: Any, /) -> list[Any]: ...


class Reader(DamageHandling):
    """One pass over the journal at *root* in a given recovery mode.

    ``Reader(root).events(from_seq)`` yields events in seq order; `damage` holds what
    was found on the way. ``last_seq`` is the seq of the last event read. What
    happens at damage (reports, the per-line path, gaps) is `DamageHandling`'s.
    """

    def __init__(
        self,
        root: Path,
        mode: RecoveryMode | str = RecoveryMode.TOLERATE,
        on_damage: Callable[[Damage], None] | None = None,
        *,
        manifest: Manifest | None = None,
    ) -> None:
        self.root = root
        self.mode = RecoveryMode(mode)
        self.on_damage = on_damage
        self.damage: list[Damage] = []
        self.manifest = load_manifest(root) if manifest is None else manifest
        self._holes = SeqHoles(self.manifest.holes)
        self._refreshed = False
        self._expected = 1
        self._from = 1
        self._unaccounted = 0  # corrupt lines since the last good record (each used a seq)
        self.last_seq = 0

    # -- the public iterator ------------------------------------------------------

    def events(self, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Event]:
        """Yield every event with ``from_seq <= seq <= to_seq`` in order."""
        for chunk in self.chunks(from_seq, to_seq):
            yield from chunk

    def chunks(
        self, from_seq: int = 1, to_seq: int | None = None, *, decoder: LineDecoder | None = None
    ) -> Iterator[list[Any]]:
        """The events of `events`, in lists (usually one per read of `_CHUNK`), for loops that
        would rather not resume a generator per event. Checks and damage reports are
        the same; a chunk holding damage comes one event per list, in order.

        With *decoder* (e.g. `journal.storage.events.typed_decoder`: its records must have
        `Event`'s ``seq``), each chunk is decoded with it instead, in the same single
        pass; a chunk it rejects (an unexpected type, or damage) comes as `Event`s, so
        the caller tells the two apart by a list's first element.
        """
        try:
            yield from self._events(max(1, from_seq), to_seq, decoder)
        except _Stop:
            return

    def _events(
        self, from_seq: int, to_seq: int | None, decoder: LineDecoder | None = None
    ) -> Iterator[list[Any]]:
        sealed = {s.name: s for s in self.manifest.segments}
        on_disk = list_segments(self.root)
        present = {p.name for _, p in on_disk}
        items: list[tuple[int, Path | None, SegmentEntry | None]] = [
            (first, path, sealed.get(path.name)) for first, path in on_disk
        ]
        items += [(s.first_seq, None, s) for s in self.manifest.segments if s.name not in present]
        items.sort(key=lambda item: item[0])
        if self.manifest.swap:
            items = self._swapped(items)
        start = 0
        for i, (first, _, _) in enumerate(items):
            if first <= from_seq:
                start = i
        self._expected = self._from = from_seq
        if items and start == 0 and items[0][0] > from_seq:
            self._expected = items[0][0] if self._holes.cover(from_seq, items[0][0] - 1) else from_seq
        for index in range(start, len(items)):
            first, path, entry = items[index]
            if to_seq is not None and first > to_seq:
                return
            if path is None:
                assert entry is not None
                self._check_gap(first, str(self.root / "segments" / entry.name), 0)
                self._report(
                    Damage(
                        "missing_segment",
                        entry.name,
                        -1,
                        None,
                        f"sealed segment listed in the manifest is missing (seq {entry.first_seq}"
                        f"-{entry.last_seq}, {entry.count} records)",
                        entry.first_seq,
                        entry.last_seq,
                    )
                )
                self._expected = max(self._expected, entry.last_seq + 1)
                continue
            yield from self._segment(path, first, entry, from_seq, to_seq, index == len(items) - 1, decoder)

    def _swapped(
        self, items: list[tuple[int, Path | None, SegmentEntry | None]]
    ) -> list[tuple[int, Path | None, SegmentEntry | None]]:
        """Honour a compaction that committed but was interrupted before all its renames
        (journal.compaction.compact): read each pending ``.compacting`` file in place of its
        segment, and skip segments it emptied. The manifest already describes the result."""
        swap = {s.segment: s.staged for s in self.manifest.swap or []}
        out: list[tuple[int, Path | None, SegmentEntry | None]] = []
        for first, path, entry in items:
            if path is not None and path.name in swap:
                staged = swap[path.name]
                if staged is None:
                    continue
                if (path.parent / staged).exists():
                    path = path.parent / staged
            out.append((first, path, entry))
        return out

    # -- one segment ----------------------------------------------------------------

    def _segment(
        self,
        path: Path,
        first: int,
        entry: SegmentEntry | None,
        from_seq: int,
        to_seq: int | None,
        is_last: bool,
        decoder: LineDecoder | None = None,
    ) -> Iterator[list[Any]]:
        try:
            fd = open_private(path, os.O_RDONLY)
        except FileNotFoundError:
            # Compaction swapped it out between listing and opening; the manifest knows.
            return
        try:
            size = os.fstat(fd).st_size
            pos = self._seek(fd, size, from_seq) if from_seq > first else 0
            # A sealed segment read from its start, at the size the manifest gives it.
            whole = entry if entry is not None and pos == 0 and entry.bytes == size else None
            index = load_index(self.root, whole) if whole is not None else None
            builder = None
            if index is not None:
                pieces = self._indexed_pieces(fd, index, path, is_last)
            else:
                trusted = whole is not None and self._whole_crc(fd, size) == whole.crc32
                builder = IndexBuilder(whole) if whole is not None and trusted else None
                pieces = self._scanned_pieces(fd, size, pos, trusted, path, is_last)
            for buf, cut, base, trusted in pieces:
                if builder is not None:
                    builder.add(base + cut, buf if cut == len(buf) else memoryview(buf)[:cut])
                events = self._chunk(buf, cut, base, path, trusted, decoder)
                if isinstance(events, list):
                    if to_seq is not None and events and events[-1].seq > to_seq:
                        end = 0
                        while events[end].seq <= to_seq:  # seqs rise: the last one is past to_seq
                            end += 1
                        if end:
                            yield events[:end]
                        return
                    if events:
                        yield events
                else:  # the per-line path: one event at a time, so damage is reported in order
                    for event in events:
                        if to_seq is not None and event.seq > to_seq:
                            return
                        yield [event]
            if builder is not None:
                builder.save(self.root)
        finally:
            os.close(fd)

    def _indexed_pieces(
        self, fd: int, index: ChunkIndex, path: Path, is_last: bool
    ) -> Iterator[tuple[bytes, int, int, bool]]:
        """`_scanned_pieces` for a segment with a `ChunkIndex`: the chunks it lists, each
        trusted when its CRC is the one noted. From the first one that is not (damage, or
        a file changed under the reader), the rest is scanned and checked line by line,
        exactly as without an index."""
        for start, end, crc in index.chunks():
            # Reads of one size (the bytes after the chunk are read again with the next
            # one) keep reusing one heap block; reads of each chunk's own size went to
            # fresh mmaps in glibc's allocator: 18x the page faults, no time saved.
            buf = os.pread(fd, max(_CHUNK, end - start), start)
            cut = end - start
            if len(buf) < cut or crc32(memoryview(buf)[:cut]) != crc:
                size = os.fstat(fd).st_size
                yield from self._scanned_pieces(fd, size, start, False, path, is_last)
                return
            yield buf, cut, start, True

    def _scanned_pieces(
        self, fd: int, size: int, pos: int, trusted: bool, path: Path, is_last: bool
    ) -> Iterator[tuple[bytes, int, int, bool]]:
        """``(buf, cut, offset, trusted)``: reads of `_CHUNK` from *pos*, each decoded up to
        its last newline (``buf[:cut]``); what follows the last one is the segment's tail.

        Each read starts at a line start and its complete lines are decoded in place (no
        carry + chunk concatenation, no copy of the cut); the partial line at its end is
        read again as the start of the next one.
        """
        carry = b""
        want = _CHUNK
        while pos < size:
            buf = os.pread(fd, min(want, size - pos), pos)
            if not buf:
                break
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                carry = buf
                if pos + len(buf) >= size:
                    break
                want = 2 * len(buf)  # one line longer than a chunk
                continue
            want = _CHUNK
            yield buf, cut, pos, trusted
            pos += cut
            carry = buf[cut:]
            if carry and pos + len(carry) >= size:
                break
        if carry:
            self._tail(carry, size - len(carry), path, is_last)

    def _whole_crc(self, fd: int, size: int) -> str:
        crc = 0
        pos = 0
        while pos < size:
            chunk = os.pread(fd, min(_CHUNK, size - pos), pos)  # not 4 MiB: slower (allocation)
            if not chunk:
                break
            crc = crc32(chunk, crc)
            pos += len(chunk)
        return "%08x" % crc

    def _seek(self, fd: int, size: int, target: int) -> int:
        """Offset of a line start at or before the first record with seq >= *target* (bisection)."""
        lo, hi = 0, size
        while hi - lo > 65536:
            mid = (lo + hi) // 2
            window = os.pread(fd, 65536, mid)
            nl = window.find(b"\n")
            if nl < 0:
                break
            start = mid + nl + 1
            head = os.pread(fd, 32, start)
            seq = peek_seq(head.lstrip(b"\0"))
            if seq is None:
                break  # damage near here: scan linearly from lo, which reports it properly
            if seq < target:
                lo = start
            else:
                hi = mid
        return lo

    def _chunk(
        self, buf: bytes, cut: int, base: int, path: Path, trusted: bool, decoder: LineDecoder | None
    ) -> Iterable[Any]:
        """The events of ``buf[:cut]`` (complete lines): one bulk check and one decode if all is well.

        A sealed segment whose whole-file CRC matched is not split into lines at all
        unless something is wrong; the result is a list, or the per-line generator.
        """
        lines: list[bytes] | None = None
        if not trusted:
            lines = buf.split(b"\n")
            lines.pop()  # the partial line after `cut`, or b"" when buf ends in "\n"
        if lines is None or check_lines(lines):
            text = buf if cut == len(buf) else memoryview(buf)[:cut]
            events = None
            if decoder is not None:
                try:
                    events = decoder.decode_lines(text)
                except (msgspec.DecodeError, UnicodeDecodeError):
                    pass  # a type or payload it does not take, or damage: read as Events
            if events is None:
                try:
                    events = EVENT_DECODER.decode_lines(text)
                except msgspec.DecodeError:
                    events = None
            if events and events[0].seq < self._from:
                events = [e for e in events if e.seq >= self._from]
            if events:
                expected = self._expected
                n = len(events)
                if (
                    events[0].seq == expected
                    and events[-1].seq == expected + n - 1
                    and list(map(_SEQ, events)) == list(range(expected, expected + n))
                ):
                    self._expected = expected + n
                    self._unaccounted = 0
                    self.last_seq = expected + n - 1
                    return events
                if self._holes and self._rises_over_holes(events, expected):
                    # A compacted stretch: the jumps are known holes, not damage.
                    self._expected = events[-1].seq + 1
                    self._unaccounted = 0
                    self.last_seq = events[-1].seq
                    return events
        if lines is None:
            lines = buf.split(b"\n")
            lines.pop()
        return self._slow(lines, base, path)

    def _rises_over_holes(self, events: list[Event], expected: int) -> bool:
        """True if the seqs of *events* rise from *expected*, jumping only over known holes."""
        cover = self._holes.cover
        for event in events:
            seq = event.seq
            if seq != expected and (seq < expected or not cover(expected, seq - 1)):
                return False
            expected = seq + 1
        return True



def read_events(
    root: Path,
    from_seq: int = 1,
    *,
    to_seq: int | None = None,
    mode: RecoveryMode | str = RecoveryMode.TOLERATE,
    on_damage: Callable[[Damage], None] | None = None,
) -> Iterator[Event]:
    """Stream the events of the journal at *root*; see `Reader` for the modes."""
    return Reader(root, mode, on_damage).events(from_seq, to_seq)
