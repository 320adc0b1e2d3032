"""Appending to the journal: correct under many concurrent processes and crashes.

One append, under the exclusive lock (§7.3 of journal-anchors.md):

1. open the active segment (the highest-numbered), creating or rolling as needed;
2. if it does not end in ``\\n``, a writer died mid-record: move the torn bytes to
   ``quarantine/``, truncate, and note it in ``errors.log``;
3. read the last seq from the tail (the log is the only counter; there is no
   separate counter file to drift);
4. merge any spooled events, then number ours ``last+1...`` (spool/ is looked at only
   when the lock file's mtime moved: whoever spools touches it, see `Writer._look`);
5. write the lines with one ``os.write`` (looping only on a short write);
6. ``fdatasync`` under the ``fsync`` policy;
7. seal the segment if it has reached ``segment_bytes``.

Encoding happens before the lock is taken; only numbering and the CRC happen
inside. A steady-state append makes five system calls (``flock``, ``fstat`` of the lock
file and of the segment, ``write``, ``flock`` again), plus ``dup``, ``fdatasync`` and
``close`` under ``fsync``. One segment file's tail, seal and quarantine are `journal.storage.segments`.
Stdlib only: this module is the hook's hot path.
"""

from __future__ import annotations

import os
import time

from journal.cjson import loads
from journal.new_event import NewEvent, sanitized
from journal.storage.codec import check_line, encode_data, encode_record, now_ts, renumber
from journal.config import JournalConfig
from journal.errors import InvalidEvent, InvalidManifest, JournalError, LockTimeout, RecordTooLarge
from journal.layout import (
    LOCK_FILE,
    SEGMENTS_DIR,
    SPOOL_DIR,
    ensure_subdir,
    fsync_dir,
    join,
    list_segments,
    open_private,
    read_manifest,
    read_private,
    segment_first_seq,
    segment_name,
    temp_path,
    unlink_if_there,
    write_all,
    write_manifest,
)
from journal.errorlog import log_error
from journal.storage.locking import FileLock, deadline
from journal.storage.overflow import DISK_FULL, overflow_dir, overflow_top, take_losses
from journal.storage.overflow import cleanup as cleanup_overflow
from journal.storage.overflow import pending as overflow_pending
from journal.storage.segments import (
    _TAIL,
    _TAIL_FIRST,
    _fdatasync,
    _read_at,
    last_newline,
    repair_tail,
    seal_info,
    tail_seq,
)

TYPE_CHECKING = False  # no typing or dataclasses at run time: this is the hook's hot path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Iterable

__all__ = ["NewEvent", "Writer", "sanitized"]

#: Keep the active segment open between appends. Not where an open descriptor pins its
#: file (Windows): compaction and scrub must be able to replace segments.
_KEEP_OPEN = os.name == "posix"


def _read_overflow(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.read(fd, os.fstat(fd).st_size + 1)
    finally:
        os.close(fd)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _checked_data(raw: bytes) -> bytes:
    """Pre-encoded payload bytes, parsed and re-encoded: only one JSON object gets in.

    Unchecked bytes (not JSON, not UTF-8, NaN, a lone surrogate) would be framed with a
    valid CRC yet be unreadable, i.e. corrupt records written by the writer itself.
    """
    try:
        value = loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidEvent(f"event data is not a UTF-8 JSON object: {e}") from e
    return encode_data(value)


#: Non-blocking retries, each after a ``sched_yield``, before a flush writer blocks on the lock.
_SPINS = 20
#: Look for spooled or parked events at least this often (seconds) even if the lock file's
#: mtime says nothing: a spooler killed between its rename and its touch, a touch that
#: failed, or two touches in one tick of a coarse-timestamp filesystem are merged anyway.
_LOOK_EVERY = 1.0


def _tell_holder(lock_path: str) -> None:
    """Touch the lock file (with a fresh time): the next lock holder looks for left events."""
    try:
        now = time.time_ns()
        if os.utime in os.supports_follow_symlinks:  # never another file's times
            os.utime(lock_path, ns=(now, now), follow_symlinks=False)
        else:  # pragma: no cover - Windows
            os.utime(lock_path, ns=(now, now))
    except OSError:
        pass  # e.g. a full disk: writers still look every `_LOOK_EVERY` s, and when they start


#: Bytes numbering can add to a record framed with seq 0: 18 more seq digits (2**63 has
#: 19) and ``,"src":"<spool file name>"`` (at most 44 characters, see `Writer.spool`).
_RENUMBER_ROOM = 18 + len(b',"src":""') + 44


class Writer:
    """Appends records to the journal at *root*; safe across processes and crashes.

    *root* is a `Path`, or a string for the hook (which never imports pathlib): the paths
    the writer makes are strings either way."""

    def __init__(self, root: str | Path, config: JournalConfig) -> None:
        self.root = root
        self._root = os.fspath(root)
        self.config = config
        self.segments = join(self._root, SEGMENTS_DIR)
        self._sanitizer: Any = None
        #: ``journal.lock``, opened once and kept (a permanent file): no open/close per append.
        #: Under ``flush`` a holder keeps it ~15 µs, so a waiter first yields and retries
        #: a few times (`FileLock` *spins*); under ``fsync`` that measured no better.
        self._lock = FileLock(join(self._root, LOCK_FILE), spins=_SPINS if config.durability == "flush" else 0)
        #: The lock file's mtime when we last looked for spooled or parked events (None:
        #: look at the next append). Whoever leaves events for the next holder touches the
        #: lock file afterwards (`_tell_holder`), so an unchanged mtime means nothing new:
        #: no ``spool/`` or overflow lookup per append.
        self._looked: int | None = None
        self._looked_at = 0.0
        #: The active segment (fd, first seq, path), kept open between appends where
        #: descriptors do not pin files (POSIX); checked under the lock before each use.
        self._active: tuple[int, int, str] | None = None
        #: (size, last seq) of the kept active segment right after our last append to it.
        #: The log only grows, and shrinks in place only when a torn tail is cut (back to a
        #: complete record), so the same size means the same last record.
        self._known: tuple[int, int] | None = None
        self._spool_dir = join(self._root, SPOOL_DIR)
        self._uid = os.geteuid() if hasattr(os, "geteuid") else 0  # st_uid is 0 where there is none
        self._overflow_top: tuple[str | None, str | None] | None = None
        #: Why payloads are being withheld (redaction cannot run), once it happened.
        self.problem: str | None = None

    # -- preparation (outside the lock) ---------------------------------------

    def sanitize(self, event: NewEvent) -> NewEvent:
        """*event* redacted and size-limited by `journal.privacy.sanitizer` (unless already done).

        Fails closed: if redaction cannot run, the event comes back with its payload
        withheld, and the failure is noted once in ``errors.log`` (see `problem`).
        """
        if event._sanitized:
            return event
        try:
            if self._sanitizer is None:
                from journal.privacy.sanitizer import Sanitizer

                self._sanitizer = Sanitizer.from_config(self.config.extra)
            return self._sanitizer.event(event)  # type: ignore[no-any-return]
        except InvalidEvent:
            raise
        except Exception as e:
            why = str(e) if type(e).__name__ == "RedactionUnavailable" else f"{type(e).__name__}: {e}"
            return self._withhold(event, why)

    def _withhold(self, event: NewEvent, why: str) -> NewEvent:
        if self.problem is None:
            self.problem = why
            log_error(self._root, "redaction_unavailable", f"payloads are withheld: {why}", type=event.type)
        try:
            from journal.privacy.sanitizer import withhold

            return withhold(event, why)
        except Exception:  # not even the fallback imports: keep the type alone
            return sanitized(NewEvent(event.type, {"_journal": {"withheld": "payload not recorded: " + why}},
                                      ts=event.ts))

    def encode(self, event: NewEvent) -> bytes:
        """Sanitise *event* and frame it with seq 0; numbering happens under the lock."""
        event = self.sanitize(event)
        data = event._encoded  # encoded by the sanitiser on its way (plain JSON types only)
        if data is None:
            data = _checked_data(event.data) if isinstance(event.data, bytes) else encode_data(event.data)
        line = encode_record(
            0, event.ts or now_ts(), event.type, data, session=event.session, agent=event.agent
        )
        # Counted at its widest on disk: numbering may give it a 19-digit seq, and a
        # merge from the spool adds its "src" (see `_RENUMBER_ROOM`).
        widest = len(line) + _RENUMBER_ROOM
        if widest > self.config.max_record_bytes:
            raise RecordTooLarge(
                f"a {event.type} record would be up to {widest:,} bytes, over the "
                f"{self.config.max_record_bytes:,}-byte limit (max_record_bytes); shrink its data"
            )
        return line

    # -- appending ------------------------------------------------------------

    def append(
        self,
        events: Iterable[NewEvent],
        *,
        lock_timeout: float | None = None,
        spool_on_timeout: bool = False,
    ) -> list[int]:
        """Append *events* in order and return their seqs.

        If the lock is busy past *lock_timeout* and *spool_on_timeout* is set, the
        events go to a spool file instead (durably) and ``[]`` is returned: the next
        append merges them, in order, so nothing is lost. With *spool_on_timeout* (the
        hooks' mode) a full disk parks them in the overflow spool (`journal.storage.overflow`)
        the same way; otherwise a full disk is a `JournalError` and nothing is written.
        """
        templates = [self.encode(e) for e in events]
        timeout = self.config.lock_timeout if lock_timeout is None else lock_timeout
        try:
            lock = self._lock
            try:
                lock.lock(deadline(timeout))
            except LockTimeout:
                if not spool_on_timeout:
                    raise LockTimeout(f"journal is locked by another process (waited {timeout:g}s "
                                      f"for {lock.path})") from None
                self.spool(templates)
                return []
            try:
                seqs, pending = self._append_locked(templates)
            finally:
                lock.unlock()
            if pending is not None:
                self._sync(pending, seqs)
            return seqs
        except OSError as e:
            if e.errno not in DISK_FULL:
                raise
            if not spool_on_timeout:
                raise JournalError(f"cannot append to {self._root}: {e.strerror or e}; nothing was written") from e
            return self._park(templates, e)

    def _park(self, templates: list[bytes], error: OSError) -> list[int]:
        """The disk is full: keep *templates* on another filesystem until the next append."""
        from journal.storage.overflow import park

        outcome = park(self._root, templates)
        self._looked = None
        _tell_holder(join(self._root, LOCK_FILE))
        if outcome != "parked":
            raise JournalError(
                f"disk full ({error.strerror}): {len(templates)} event(s) could not be kept"
                + (" and are counted as lost (`agent-journal verify` shows them once space returns)"
                   if outcome == "counted" else " (no $XDG_RUNTIME_DIR or /dev/shm to park them in)")
            ) from error
        return []

    def spool(self, templates: list[bytes]) -> str:
        """Durably park framed records (seq 0) for the next lock holder to merge."""
        spool_dir = ensure_subdir(self._root, SPOOL_DIR)
        path = join(spool_dir, "%020d-%d-%s.jsonl" % (time.time_ns(), os.getpid(), os.urandom(3).hex()))
        # Written under a name the merge ignores, then renamed: a lock holder listing
        # spool/ mid-write would merge the partial file and unlink it, losing the rest.
        tmp = temp_path(path)
        fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            write_all(fd, b"".join(templates))
            os.fsync(fd)
        except OSError:
            unlink_if_there(tmp)  # e.g. a full disk: the caller parks the events elsewhere
            raise
        finally:
            os.close(fd)
        os.rename(tmp, path)
        fsync_dir(spool_dir)
        self._looked = None
        _tell_holder(join(self._root, LOCK_FILE))
        return path

    def close(self) -> None:
        """Close the descriptors kept between appends (the next append reopens them)."""
        active, self._active, self._known = self._active, None, None
        if active is not None:
            os.close(active[0])
        self._lock.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the exit closes them anyway
            pass

    def _active_segment(self) -> tuple[int, int, str, int]:
        """The active segment's (fd, first seq, path, size); call with the lock held.

        The kept descriptor is still the active segment unless another process sealed it
        (a roll makes it read-only before creating the next segment), it was replaced or
        deleted (recovery, scrub, a deleted journal: no link left), it is full, or it is
        no longer ours (chowned: `open_private` refuses it). Any of these: find and open
        the active segment again (`_open_active`).
        """
        active = self._active
        if active is not None:
            st = os.fstat(active[0])
            if (st.st_nlink and st.st_mode & 0o200 and st.st_size < self.config.segment_bytes
                    and st.st_uid == self._uid):
                return active[0], active[1], active[2], st.st_size
            self._active = None
            os.close(active[0])
        self._known = None
        fd, first, path = self._open_active()
        if _KEEP_OPEN:
            self._active = (fd, first, path)
        return fd, first, path, os.fstat(fd).st_size

    def _look(self, appending: bool) -> bool:
        """Should this append look for spooled or parked events? Call with the lock held.

        Yes if the lock file's mtime moved since we last looked (a spooler touched it),
        on our first append, every `_LOOK_EVERY` s, and always for a bare merge (no
        events: `Journal.scrub` asks for one before it reads the spool).
        """
        st = self._lock.stat
        mtime = st.st_mtime_ns if st is not None else None
        now = time.monotonic()
        if appending and mtime is not None and mtime == self._looked and now - self._looked_at < _LOOK_EVERY:
            return False
        self._looked, self._looked_at = mtime, now
        return True

    def _overflow(self) -> str | None:
        """`overflow_dir` of this journal: one stat when no full disk ever parked events."""
        key = os.environ.get("XDG_RUNTIME_DIR")
        if self._overflow_top is None or self._overflow_top[0] != key:
            self._overflow_top = (key, overflow_top())
        top = self._overflow_top[1]
        if top is None or not os.access(top, os.F_OK):  # no exception object when it is missing
            return None
        return overflow_dir(self._root)

    def _sync(self, pending: tuple[int, str, int, int], seqs: list[int]) -> None:
        """``fdatasync`` the records just written, after the lock is released (group commit).

        Several writers' syncs then overlap (the filesystem's journal commits them
        together) instead of queueing one flush latency each behind the lock. The
        promise is unchanged: `append` returns only once its records are synced. Records
        written but not yet synced are not acknowledged to anyone, and the filesystem
        exposes a file's new size only with its data (ext4 ``data=ordered``, XFS), so a
        crash cannot leave a hole before a synced record. On a sync error the append fails
        (never retried, fsyncgate); its records are cut off again if nothing followed them.
        """
        fd, path, start, end = pending
        try:
            _fdatasync(fd)
        except OSError as e:
            undone = self._undo(fd, start, end)
            log_error(self._root, "append_failed", f"fdatasync of {path} failed: {e}",
                      seqs=[seqs[0], seqs[-1]] if seqs else [], undone=undone)
            if undone and e.errno in DISK_FULL:
                raise  # nothing was kept: `append` parks the events on another filesystem
            raise JournalError(
                f"append to {path} failed: fdatasync: {e.strerror or e}; "
                + ("nothing was kept" if undone else
                   f"seq {seqs[0]}-{seqs[-1]} stay in the log (other appends followed) but may not survive a crash")
            ) from e
        finally:
            os.close(fd)

    def _undo(self, fd: int, start: int, end: int) -> bool:
        """Cut the records at [*start*, *end*) off again if they still end the segment."""
        try:
            self._lock.lock(deadline(self.config.lock_timeout))
        except JournalError:
            return False
        try:
            if os.fstat(fd).st_size != end:
                return False
            os.ftruncate(fd, start)
            self._known = None
            return True
        except OSError:
            return False
        finally:
            self._lock.unlock()

    def _append_locked(self, templates: list[bytes]) -> tuple[list[int], tuple[int, str, int, int] | None]:
        fd, first, path, size = self._active_segment()
        try:
            return self._append_to(fd, first, path, size, templates)
        except BaseException:
            self._active = self._known = None  # reopened next time: the error may have been the descriptor's
            self._looked = None  # and the spool looked at again
            raise
        finally:
            if self._active is None or self._active[0] != fd:  # not kept, or sealed by `_roll`
                os.close(fd)

    def _append_to(self, fd: int, first: int, path: str, size: int,
                   templates: list[bytes]) -> tuple[list[int], tuple[int, str, int, int] | None]:
        known = self._known
        if known is not None and known[0] == size:
            last = known[1]  # nobody appended since our last append: no tail read
        else:
            # One read gives both the last byte (is the tail torn?) and the last record's seq.
            tail = _read_at(fd, size - min(size, _TAIL_FIRST), min(size, _TAIL_FIRST)) if size else b""
            if tail and tail[-1:] != b"\n":
                size = self._repair_tail(fd, size, path)
                tail = b""
            last = tail_seq(fd, size, first, tail) if size else first - 1
        self._known = None
        if self._look(bool(templates)):
            overflow = self._overflow()  # None (one stat) unless a full disk parked events
            spooled, spool_files = self._collect_spool(fd, size, path, overflow)
        else:
            overflow, spooled, spool_files = None, [], []
        out: list[bytes] = []
        for line, src in spooled:
            last += 1
            out.append(renumber(line, last, src))
        lost, lost_file = take_losses(self._root, overflow) if overflow is not None else (None, None)
        lost_seq = 0
        if lost is not None:  # events a full disk cost earlier: said in the log itself
            last += 1
            lost_seq = last
            out.append(renumber(self.encode(NewEvent("journal.events_lost", dict(lost, reason="disk full")))[:-1],
                                last))
        seqs = []
        for template in templates:
            last += 1
            seqs.append(last)
            out.append(renumber(template[:-1], last))
        pending = None
        if out:
            try:
                data = b"".join(out)
                write_all(fd, data)
                if self.config.durability == "fsync":
                    if spool_files or lost is not None:
                        _fdatasync(fd)  # now, before their spool files are deleted
                    else:
                        pending = (os.dup(fd), path, size, size + len(data))  # synced after the unlock
            except OSError as e:
                try:
                    os.ftruncate(fd, size)  # no half-written record stays behind
                except OSError:
                    pass  # the next append quarantines the torn tail
                if e.errno in DISK_FULL:
                    raise  # `append` parks the events on another filesystem
                log_error(self._root, "append_failed", f"write to {path} failed: {e}")
                raise JournalError(f"append to {path} failed: {e.strerror or e}") from e
        for spool_file in spool_files:
            unlink_if_there(spool_file)
        for directory in {os.path.dirname(f) for f in spool_files}:
            fsync_dir(directory)
        if lost is not None and lost_file is not None:
            self._note_dropped(lost, lost_seq, lost_file)
        if spool_files or lost is not None:
            cleanup_overflow(self._root)
        end = size + sum(map(len, out))
        if end >= self.config.segment_bytes:
            try:
                self._roll(fd, first, path, last)
            except OSError as e:
                if e.errno not in DISK_FULL:
                    if pending is not None:
                        os.close(pending[0])
                    raise  # the records are written: a full disk only delays the roll
        elif self._active is not None and self._active[0] == fd:
            self._known = (end, last)
        return seqs, pending

    # -- segments ---------------------------------------------------------------

    def _create_segment(self, first_seq: int) -> str:
        path = join(self.segments, segment_name(first_seq))
        try:
            fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            os.close(fd)
        except FileExistsError:
            pass
        fsync_dir(self.segments)
        return path

    def _last_segment(self) -> list[tuple[int, str]]:
        """``list_segments(root)[-1:]`` without a Path per segment and a sort (every append calls it)."""
        try:
            names = os.listdir(self.segments)
        except FileNotFoundError:
            return []
        last: tuple[int, str] | None = None
        for name in names:
            first = segment_first_seq(name)
            if first is not None and (last is None or (first, name) > last):
                last = (first, name)
        return [] if last is None else [(last[0], join(self.segments, last[1]))]

    def _open_active(self) -> tuple[int, int, str]:
        """Open the active segment read-write, first rolling a sealed or full one."""
        segs = self._last_segment()
        if not segs:
            ensure_subdir(self._root, SEGMENTS_DIR)
            manifest = self._manifest()
            first = 1 + max([s["last_seq"] for s in manifest["segments"]] + [0])
            segs = [(first, self._create_segment(first))]
        first, path = segs[-1]
        try:
            fd = open_private(path, os.O_RDWR | os.O_APPEND)
            st = os.fstat(fd)
            sealed = not st.st_mode & 0o200
        except PermissionError:
            # Sealed segments are read-only; a non-root writer cannot even open one.
            fd = open_private(path, os.O_RDONLY)
            st = os.fstat(fd)
            sealed = True
        if not sealed and st.st_size < self.config.segment_bytes:
            return fd, first, path
        keep = False
        try:
            # A crash between sealing and creating the next segment, or a full segment.
            size = last_newline(fd, st.st_size) if sealed else st.st_size
            if not sealed and size and _read_at(fd, size - 1, 1) != b"\n":
                size = self._repair_tail(fd, size, path)
                # Only the torn bytes made it look full: keep appending to it. (Rolling
                # here would seal a short or even empty segment, and an empty one's
                # successor has the same name, so appends would land in a sealed file.)
                keep = size < self.config.segment_bytes
                if keep:
                    return fd, first, path
            last = tail_seq(fd, size, first) if size else first - 1
            if sealed:
                self._create_segment(last + 1)
            else:
                self._roll(fd, first, path, last)
        finally:
            if not keep:
                os.close(fd)
        first = last + 1
        path = join(self.segments, segment_name(first))
        return open_private(path, os.O_RDWR | os.O_APPEND), first, path

    def _note_dropped(self, lost: dict[str, Any], seq: int, lost_file: str) -> None:
        """Record a loss in the manifest's ``dropped`` list (read by verify and the context)."""
        unlink_if_there(lost_file)
        try:
            manifest = self._manifest()
            manifest["dropped"] = list(manifest.get("dropped") or []) + [dict(lost, seq=seq, reason="disk full")]
            write_manifest(self._root, manifest)
        except OSError as e:
            log_error(self._root, "dropped_not_noted", f"could not note lost events in the manifest: {e}")

    def _manifest(self) -> dict[str, Any]:
        """The manifest, rebuilt from the segments first if it is invalid (we hold the lock)."""
        try:
            return read_manifest(self._root)
        except InvalidManifest as e:
            from journal.storage.manifest_rebuild import rebuild_manifest

            from pathlib import Path

            rebuild_manifest(Path(self._root), str(e))
            return read_manifest(self._root)

    def _roll(self, fd: int, first: int, path: str, last: int) -> None:
        """Seal the active segment (manifest entry, read-only) and start the next one."""
        self._active = self._known = None  # a sealed segment is never kept: a repair may make it writable again
        os.fsync(fd)
        info = seal_info(path, first)
        manifest = self._manifest()
        manifest["segments"] = [s for s in manifest["segments"] if s["name"] != info["name"]] + [info]
        manifest["segments"].sort(key=lambda s: s["first_seq"])
        write_manifest(self._root, manifest)
        os.fchmod(fd, 0o400)
        self._create_segment(info["last_seq"] + 1)

    # -- recovery of a torn tail ----------------------------------------------------

    def _repair_tail(self, fd: int, size: int, path: str) -> int:
        return repair_tail(self._root, fd, size, path)

    # -- spool ------------------------------------------------------------------------

    def _previous_tail(self, active: str, size: int) -> bytes:
        """The last *size* bytes of the segment before *active* (b"" if there is none)."""
        paths = [p for _, p in list_segments(self._root)]
        if active not in paths or paths.index(active) == 0:
            return b""
        fd = open_private(paths[paths.index(active) - 1], os.O_RDONLY)
        try:
            end = os.fstat(fd).st_size
            return _read_at(fd, max(0, end - size), min(size, end))
        finally:
            os.close(fd)

    def _collect_spool(self, fd: int, size: int, active: str,
                       overflow: str | None = None) -> tuple[list[tuple[bytes, str]], list[str]]:
        """Verified records waiting in spool files, oldest file first, minus any already merged."""
        spool_dir = self._spool_dir
        try:
            # os.access first: a missing spool/ (the usual case) costs no exception object.
            names = os.listdir(spool_dir) if os.access(spool_dir, os.F_OK) else []
            files = [join(spool_dir, n) for n in names if n.endswith(".jsonl")]
        except FileNotFoundError:
            files = []
        if overflow is not None:
            files += overflow_pending(self._root, overflow)  # parked while the disk was full: same names, same order
        if not files:
            return [], []
        files.sort(key=os.path.basename)
        contents = []
        for path in files:
            try:
                spooled = os.path.basename(os.path.dirname(path)) == SPOOL_DIR
                contents.append(read_private(path) if spooled else _read_overflow(path))
            except OSError:
                contents.append(b"")
        # A crash after writing merged records but before unlinking their spool file
        # must not merge them twice: merged records carry "src" = the spool file name.
        wanted = _TAIL + 2 * sum(map(len, contents))
        window = min(size, wanted)
        tail = _read_at(fd, size - window, window) if window else b""
        if window < wanted:
            # The merged records may end the previous segment: the merge itself can fill
            # the segment (it rolls), or the next writer rolls it before getting here.
            tail = self._previous_tail(active, wanted - window) + tail
        out: list[tuple[bytes, str]] = []
        for path, raw in zip(files, contents, strict=True):
            if b'"src":"%s"' % os.path.basename(path).encode() in tail:
                continue
            for line in raw.split(b"\n"):
                if not line:
                    continue
                if check_line(line):
                    out.append((line, os.path.basename(path)))
                else:
                    log_error(
                        self._root,
                        "spool_record_dropped",
                        f"a damaged record in spool file {os.path.basename(path)} was not merged",
                        spool=os.path.basename(path),
                        bytes=len(line),
                    )
        return out, files
