"""What a `journal.storage.reader.Reader` does with damage: report each finding under the
recovery mode, read a damaged chunk line by line, and tell seq gaps from known holes.

Only a chunk that fails the reader's bulk checks, or a torn or missing segment, gets
here; the fast path stays in `journal.storage.reader`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import msgspec

from journal.storage.codec import CRC_MARK, CRC_SUFFIX_LEN, SEQ_PREFIX, check_line, peek_seq
from journal.storage.damage import Damage, RecoveryMode, SeqHoles
from journal.errors import CorruptRecord, TornTail
from journal.storage.events import EVENT_DECODER, Event, decode_payload
from journal.storage.manifest import Manifest, load_manifest

__all__ = ["DamageHandling"]



class _Stop(Exception):
    """Point-in-time recovery reached its first damage."""


class DamageHandling:
    """The damage side of a `Reader` pass (a mixin): reports, the per-line path, gaps, torn tails.

    `Reader.__init__` sets the state below, which the reader's fast path shares.
    """

    root: Path
    mode: RecoveryMode
    on_damage: Callable[[Damage], None] | None
    damage: list[Damage]
    manifest: Manifest
    last_seq: int
    _holes: SeqHoles
    _refreshed: bool
    _expected: int
    _from: int
    _unaccounted: int

    def _report(self, damage: Damage) -> None:
        self.damage.append(damage)
        if self.on_damage is not None:
            self.on_damage(damage)
        if self.mode is RecoveryMode.STRICT and damage.kind != "salvaged":
            cls = TornTail if damage.kind == "torn_tail" else CorruptRecord
            raise cls(str(damage), file=damage.file, offset=damage.offset, seq=damage.seq)
        if self.mode is RecoveryMode.POINT_IN_TIME and damage.kind not in ("torn_tail", "nul_bytes"):
            raise _Stop

    def _slow(self, lines: list[bytes], base: int, path: Path) -> Iterator[Event]:
        """Per-line handling of a chunk that holds damage or a seq irregularity."""
        offset = base
        name = str(path)
        for line in lines:
            here = offset
            offset += len(line) + 1
            record = line
            if record[:1] == b"\0":
                record = record.lstrip(b"\0")
                self._report(
                    Damage("nul_bytes", name, here, peek_seq(record),
                           f"{len(line) - len(record)} NUL bytes before a record")
                )
                here += len(line) - len(record)
                if not record:
                    continue
            event = None
            if check_line(record):
                try:
                    event = EVENT_DECODER.decode(record)
                except (msgspec.DecodeError, UnicodeDecodeError) as e:  # msgspec: bad UTF-8 is the latter
                    self._corrupt(name, here, record, f"record has a valid CRC but does not decode: {e}")
                    continue
            else:
                salvaged = self._salvage(record) if self.mode is RecoveryMode.SALVAGE else None
                self._corrupt(name, here, record, self._why(record))
                if salvaged is None:
                    continue
                event = salvaged
                self._report(Damage("salvaged", name, here, event.seq, "kept a record that failed its CRC"))
            if event.seq < self._from:
                continue
            if event.seq < self._expected:
                self._report(
                    Damage(
                        "duplicate",
                        name,
                        here,
                        event.seq,
                        f"seq {event.seq} is not after the previous record (expected {self._expected})",
                    )
                )
                continue
            self._check_gap(event.seq, name, here)
            self._expected = event.seq + 1
            self._unaccounted = 0
            self.last_seq = event.seq
            yield event

    def _check_gap(self, seq: int, name: str, offset: int) -> None:
        if seq <= self._expected:
            return
        missing_first, missing_last = self._expected, seq - 1
        if self._holes.cover(missing_first, missing_last) or self._refresh_holes(missing_first, missing_last):
            return
        if missing_last - missing_first + 1 <= self._unaccounted:
            return  # those seqs are the corrupt records already reported
        self._report(
            Damage(
                "gap",
                name,
                offset,
                seq,
                f"seq {missing_first}-{missing_last} missing before seq {seq}",
                missing_first,
                missing_last,
            )
        )

    def _refresh_holes(self, first: int, last: int) -> bool:
        """A compaction may have committed since this reader read the manifest: look once
        more (only if the epoch moved) before calling missing seqs a gap."""
        if self._refreshed:
            return False
        self._refreshed = True
        try:
            now = load_manifest(self.root)
        except Exception:  # noqa: BLE001 - a damaged manifest is reported elsewhere
            return False
        if now.epoch == self.manifest.epoch:
            return False
        self._holes.add(now.holes)
        return self._holes.cover(first, last)

    def _corrupt(self, name: str, offset: int, record: bytes, why: str) -> None:
        self._unaccounted += 1
        self._report(Damage("corrupt", name, offset, peek_seq(record), why))

    @staticmethod
    def _why(record: bytes) -> str:
        if len(record) < CRC_SUFFIX_LEN or record[-CRC_SUFFIX_LEN:-10] != CRC_MARK:
            return f"line of {len(record)} bytes is not a journal record (no CRC member)"
        return f"CRC mismatch on a {len(record)}-byte record"

    @staticmethod
    def _salvage(record: bytes) -> Event | None:
        """Salvage mode: keep what parses, also a good record glued behind garbage."""
        candidates = [record]
        glued = record.rfind(SEQ_PREFIX)
        if glued > 0:
            candidates.append(record[glued:])
        for candidate in candidates:
            try:
                event = EVENT_DECODER.decode(candidate)
                # The payload is kept as Raw, unchecked by the decode above; a record we
                # keep must decode all the way (a flipped byte can leave invalid UTF-8).
                decode_payload(event.data)
                return event
            except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec: bad UTF-8 is the latter
                continue
        return None

    def _tail(self, carry: bytes, offset: int, path: Path, is_last: bool) -> None:
        name = str(path)
        if not carry.strip(b"\0"):
            detail = f"{len(carry)} NUL bytes after the last record (preallocated or unsynced space)"
        else:
            detail = f"{len(carry)} bytes after the last complete record (a write cut short)"
        if is_last:
            self._report(Damage("torn_tail", name, offset, peek_seq(carry), detail))
        else:
            self._unaccounted += 1
            self._report(Damage("unterminated_segment", name, offset, peek_seq(carry), "sealed segment " + detail))
