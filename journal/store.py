"""`Journal`: the one object the CLI, the hooks and the projections talk to.

It ties the pieces together: where the journal lives and its settings
(`journal.config`), appending (`journal.storage.writer`), reading (`journal.storage.reader`),
checking (`journal.storage.verify`), repairing (`journal.storage.recovery`) and compacting
(`journal.compaction.compact`, with the archive in `journal.compaction.archive`). Reading modules use
msgspec and are imported on first use, so a process that only appends (a hook) pays
for none of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from journal.config import JournalConfig, load_config
from journal.errors import ConfigError, JournalError, JournalPermissionError, LockTimeout
from journal.layout import check_journal_dir, ensure_journal_dir, list_segments, log_error, open_private
from journal.storage.writer import NewEvent, Writer

TYPE_CHECKING = False  # no typing at run time: `import journal` is on the hook's hot path
if TYPE_CHECKING:
    from collections import Counter
    from typing import Any, Callable, Iterable, Iterator

    from journal.compaction.compact import CompactionResult, Plan
    from journal.storage.events import Event
    from journal.storage.manifest import Manifest
    from journal.storage.reader import Damage, RecoveryMode
    from journal.storage.recovery import RepairPreview, RepairReport
    from journal.compaction.scrub import ScrubResult
    from journal.storage.verify import VerifyReport

__all__ = ["Journal"]


class _RefusingWriter:
    """Stands in for the `Writer` of a journal whose config.json is broken: nothing is
    written under settings (and redaction rules) that could not be read."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def __getattr__(self, name: str) -> Any:
        raise ConfigError(self.problem)


class Journal:
    """A journal directory: append events, read them back, verify, repair."""

    def __init__(self, root: Path, config: JournalConfig, config_problem: str | None = None) -> None:
        self.root = root
        self.config = config
        #: Why config.json could not be used (the journal then reads with the defaults and
        #: refuses to write: a broken file may hold the user's redaction rules), else None.
        self.config_problem = config_problem
        self._writer: Writer | _RefusingWriter = (
            Writer(root, config) if config_problem is None else _RefusingWriter(config_problem))
        #: Things worth telling the user once (e.g. an invalid manifest was rebuilt).
        self.notices: list[str] = []
        #: Told of damage found by every read of this journal that names no ``on_damage``
        #: (the CLI warns once on stderr); projections read through it too. A damaged
        #: archive goes here as well (with no sink at all, to ``errors.log``).
        self.on_damage: Callable[[Damage], None] | None = None

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str],
        *,
        create: bool = True,
        environ: dict[str, str] | None = None,
        **overrides: Any,
    ) -> Journal:
        """Open (and with *create*, make) the journal directory *root*."""
        path = Path(root)
        if create:
            ensure_journal_dir(path)
        elif not os.path.lexists(path):
            raise JournalError(f"no journal at {path} (nothing has been recorded there yet)")
        else:
            try:
                check_journal_dir(path)  # nothing in it is trusted: no links, nothing of another user's
            except OSError as e:
                raise JournalPermissionError(f"cannot open journal directory {path}: {e.strerror or e}") from e
        try:
            journal = cls(path, load_config(path, environ, **overrides))
        except ConfigError as e:
            # Reading goes on with the defaults (the caller may warn); writing refuses.
            journal = cls(path, load_config(None, environ, **overrides), str(e))
        from journal.storage.manifest import ensure_manifest  # msgspec: never on the hook's path

        notice = ensure_manifest(path, lock_timeout=journal.config.lock_timeout)
        if notice is not None:
            journal.notices.append(notice)
        return journal

    # -- writing -------------------------------------------------------------------

    def append(
        self,
        type: str,
        data: dict[str, Any] | bytes | None = None,
        *,
        session: str | None = None,
        agent: str | None = None,
        ts: str | None = None,
    ) -> int:
        """Append one event and return its seq (durable per the durability policy)."""
        return self._writer.append([NewEvent(type, data, session, agent, ts)])[0]

    def append_many(self, events: Iterable[NewEvent], *, lock_timeout: float | None = None,
                    spool_on_timeout: bool = False) -> list[int]:
        """Append several events under one lock, in order; ``[]`` if they were spooled."""
        return self._writer.append(events, lock_timeout=lock_timeout, spool_on_timeout=spool_on_timeout)

    def withheld_reason(self) -> str | None:
        """Why event payloads were withheld by this process (redaction could not run), if they were."""
        return self._writer.problem if isinstance(self._writer, Writer) else None

    def log_error(self, kind: str, message: str, **fields: Any) -> None:
        """Note an internal error in the journal's ``errors.log``."""
        log_error(self.root, kind, message, **fields)

    # -- reading -------------------------------------------------------------------

    def read(
        self,
        from_seq: int = 1,
        *,
        to_seq: int | None = None,
        mode: RecoveryMode | str = "tolerate",
        on_damage: Callable[[Damage], None] | None = None,
        archived: bool = False,
    ) -> Iterator[Event]:
        """Stream events with ``from_seq <= seq <= to_seq``; damage handled per *mode*.

        With *archived*, events that compaction moved to ``archive/`` come back in
        their place (and the records that replaced them do not): the original history.
        """
        from journal.storage.reader import Reader

        reader = Reader(self.root, mode, on_damage or self.on_damage)
        if not archived or not reader.manifest.archive:
            return reader.events(from_seq, to_seq)
        return self._with_archive(reader, from_seq, to_seq, on_damage or self.on_damage)

    def _with_archive(self, reader: Any, from_seq: int, to_seq: int | None,
                      on_damage: Callable[[Damage], None] | None) -> Iterator[Event]:
        import heapq

        from journal.compaction.archive import read_archived

        live = ((e.seq, 1, e) for e in reader.events(from_seq, to_seq))
        old = ((e.seq, 0, e) for e in read_archived(self.root, from_seq, to_seq, manifest=reader.manifest,
                                                    on_damage=on_damage))
        seen = -1
        for seq, _, event in heapq.merge(old, live):
            if seq != seen:  # on a tie the archived original (0) comes first and wins
                seen = seq
                yield event

    def read_archived(
        self,
        from_seq: int = 1,
        *,
        to_seq: int | None = None,
        session: str | None = None,
        agent: str | None = None,
    ) -> Iterator[Event]:
        """Only the archived events (of *session* / *agent* if given), in seq order."""
        from journal.compaction.archive import read_archived

        return read_archived(self.root, from_seq, to_seq, session=session, agent=agent,
                             on_damage=self.on_damage)

    def manifest(self) -> Manifest:
        """The manifest: sealed segments, compacted and lost ranges, journal id, epoch."""
        from journal.storage.manifest import load_manifest

        return load_manifest(self.root)

    def last_seq(self) -> int:
        """The seq of the newest record (0 for an empty journal), read from the tail."""
        from journal.storage.segments import last_newline, tail_seq

        segments = list_segments(self.root)
        for first, path in reversed(segments):
            fd = open_private(path, os.O_RDONLY)
            try:
                size = last_newline(fd, os.fstat(fd).st_size)
                if size:
                    return tail_seq(fd, size, first)
            finally:
                os.close(fd)
            if first > 1:
                return first - 1
        return 0

    # -- checking ------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Check every record and segment; report, never fix."""
        from journal.storage.manifest import ensure_manifest
        from journal.storage.verify import verify

        notice = ensure_manifest(self.root, lock_timeout=self.config.lock_timeout)  # derived data: rebuilt
        if notice is not None:
            self.notices.append(notice)
        return verify(self.root, lock_timeout=self.config.lock_timeout)

    def repair_preview(self, mode: RecoveryMode | str) -> RepairPreview:
        """What `repair` in *mode* would set aside: damaged records, and intact events with them."""
        from journal.storage.recovery import preview_repair

        return preview_repair(self.root, mode)

    def repair(self, mode: RecoveryMode | str) -> RepairReport:
        """Fix damage in *mode* (tolerate, salvage, point-in-time); evidence is quarantined."""
        from journal.compaction.compact import finish_swap
        from journal.storage.recovery import repair

        try:
            finish_swap(self.root, lock_timeout=max(self.config.lock_timeout, 30.0))  # repair works on final files
        except LockTimeout:
            raise
        except JournalError:
            pass  # an unreadable manifest: no swap can be finished from it, and repair rebuilds it
        return repair(self.root, mode, lock_timeout=max(self.config.lock_timeout, 30.0))

    def compact(
        self,
        plan: Plan,
        *,
        guard: Callable[[Iterator[Event]], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CompactionResult:
        """Carry out a compaction *plan* (see `journal.compaction.compact`); one at a time.

        Finishes or cleans up an interrupted earlier compaction first. Plans come from
        `projections.compaction.compact`, which knows what may go.
        """
        from journal.compaction.compact import compact, compaction_lock, recover

        if self.config_problem is not None:
            raise ConfigError(self.config_problem)  # its retention rules could not be read
        with compaction_lock(self.root):
            recover(self.root, lock_timeout=self.config.lock_timeout)
            return compact(self.root, plan, guard=guard, progress=progress, lock_timeout=self.config.lock_timeout)

    def scrub(
        self,
        text: str | None = None,
        *,
        pattern: str | None = None,
        dry_run: bool = False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ScrubResult:
        """Replace a leaked secret (*text*, or each match of *pattern*) in every file of the
        journal by a redaction marker (see `journal.compaction.scrub`), then append a ``journal.scrubbed``
        event naming the kind and the count (never the secret)."""
        from journal.compaction.scrub import Matcher, scrub

        matcher = Matcher(text, pattern=pattern, salt=self._marker_salt())
        spool = self.root / "spool"
        if not dry_run and spool.is_dir() and any(n.endswith(".jsonl") for n in os.listdir(spool)):
            try:
                self._writer.append([], lock_timeout=self.config.lock_timeout)  # merge the spool first
            except LockTimeout:
                pass  # the commit looks at the spool again under the lock
        result = scrub(self.root, matcher, dry_run=dry_run, progress=progress, lock_timeout=self.config.lock_timeout)
        if result.committed:
            self.append("journal.scrubbed", {"kind": result.kind, "mode": result.mode, "count": result.occurrences,
                                             "records": result.records, "files": len(result.to_dict()["files"]),
                                             "epoch": result.epoch})
        return result

    def _marker_salt(self) -> str:
        """The salt the redactor keys its markers with, so scrubbed markers correlate with its own."""
        redaction = self.config.extra.get("redaction")
        salt = redaction.get("salt") if isinstance(redaction, dict) else None
        return salt if isinstance(salt, str) else ""

    def stats(self) -> dict[str, Any]:
        """Events by type, sessions, bytes and segments (one streaming pass)."""
        from collections import Counter

        by_type: Counter[str] = Counter()
        sessions: set[str] = set()
        events = 0
        for event in self.read():
            events += 1
            by_type[event.type] += 1
            if event.session is not None:
                sessions.add(event.session)
        segments = list_segments(self.root)
        manifest = self.manifest()
        return {
            "journal": str(self.root),
            "events": events,
            "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
            "sessions": len(sessions),
            "segments": len(segments),
            "sealed_segments": len(manifest.segments),
            "bytes": sum(p.stat().st_size for _, p in segments),
            "last_seq": self.last_seq(),
        }
