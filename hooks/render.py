"""Rendering for hooks: the SessionStart recovery context and the PreCompact capture.

Needs msgspec (through `projections`). The launcher calls these in-process when the
interpreter has msgspec, else runs ``python -m hooks.render`` in an interpreter that
does (see `hooks.runtime`), passing arguments and reading one JSON object back.

Each SessionStart render, and SessionEnd's detached job (`write_next_context`), also store
the context the next ``startup`` session of the project will get (`next_context`), which
the hook prints without rendering when it provably still holds (`hooks.context_cache`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def _import_msgspec_lean() -> None:
    """Import msgspec without `typing_extensions` (about 12 ms, `inspect` and `ast` among it).

    msgspec (0.18 to 0.23 at least) imports it only for ``get_type_hints``, ``Required`` and
    ``NotRequired``, and falls back to `typing`'s own when the import fails (its
    ``_utils.py``); on Python >= 3.11 those are the same for our Structs and decoders
    (``tests/hooks/test_context_cache.py`` renders both ways). Blocked only while msgspec
    loads, and only here: the rendering hook. Anything that imports it later still can.
    """
    if "msgspec" in sys.modules or "typing_extensions" in sys.modules or sys.version_info < (3, 11):
        return
    sys.modules["typing_extensions"] = None  # type: ignore[assignment]  # "import" raises ImportError
    try:
        import msgspec  # noqa: F401
    except ImportError:
        pass  # reported where it is used, as without this
    finally:
        del sys.modules["typing_extensions"]


_import_msgspec_lean()

__all__ = ["session_start", "next_context", "write_next_context", "precompact", "main"]


def _journal(root: Path):  # type: ignore[no-untyped-def]
    from journal import Journal

    return Journal.open(root, create=False)


def session_start(root: Path, session_id: str, source: str, project: str = "") -> dict[str, Any]:
    """``{"context": markdown or "", "consumed": [resume request seqs]}`` for a starting session.

    With ``context.write_dir`` set, the @import files in *project* are refreshed from the
    same fold (`projections.read.memory_files.keep_fresh`)."""
    from projections.read.context import max_chars_of, session_start_context
    from projections.read.memory_files import keep_fresh, write_dir_of

    before = _inputs(root)
    journal = _journal(root)
    _register(root)
    max_chars = max_chars_of(journal.config.extra)
    files = bool(project and write_dir_of(journal.config.extra))
    notice = disk_full_notice(journal)

    def also(views: Any, live: Any) -> None:
        if files:
            keep_fresh(journal, project, views, live)  # never raises: one errors.log line
        else:  # the same read gives the next session of this project its context
            rec = views.sessions.records.record(session_id)
            if rec is not None:
                _store_next(journal, views, live, rec, before, notice)

    text, consumed = session_start_context(journal, session_id, source, max_chars=max_chars - len(notice),
                                           also=also)
    if notice:
        text = notice + ("\n" + text if text else "")
    return {"context": text, "consumed": list(consumed)}


#: Losses to a full disk are shown at SessionStart for this long after they happened.
DROPPED_SHOWN_FOR = 7 * 86400


def disk_full_notice(journal: Any, now: float | None = None) -> str:
    """A line for the top of the context when a full disk cost or still holds back events."""
    from journal.storage.overflow import status
    from projections.text import parse_ts

    now = time.time() if now is None else now
    lines = []
    recent = [d for d in journal.manifest().dropped if now - parse_ts(d.last_ts) < DROPPED_SHOWN_FOR]
    if recent:
        events = sum(d.events for d in recent)
        types: dict[str, int] = {}
        for d in recent:
            for name, n in d.types.items():
                types[name] = types.get(name, 0) + n
        kinds = ", ".join(f"{n} {name}" for name, n in sorted(types.items(), key=lambda kv: -kv[1])[:4])
        lines.append(f"**Agent Journal: a full disk cost {events} recorded event(s)** "
                     f"({recent[0].first_ts[:16]} to {recent[-1].last_ts[:16]} UTC"
                     + (f": {kinds}" if kinds else "") + "); the history around then is incomplete "
                     "(`agent-journal verify` lists the losses).")
    waiting = status(journal.root)
    if waiting["pending_events"] or waiting["lost_events"]:
        lines.append(f"**Agent Journal: the disk is full.** {waiting['pending_events']} event(s) wait in "
                     f"{waiting['dir']} until there is space"
                     + (f"; {waiting['lost_events']} did not fit and are lost" if waiting["lost_events"] else "")
                     + ".")
    return "\n".join(lines) + ("\n" if lines else "")


#: The id the next session is rendered under (never a Claude Code session id, a UUID).
_NEWCOMER = "~next-session~"
#: The most characters of known session ids (8 each, and a comma) a stored context lists:
#: about 160,000 sessions (`hooks.context_cache.MAX_BYTES` bounds the file).
_KNOWN_MAX = 1_500_000


class _Moment(float):
    """The reading moment of a context stored for later: `projections.text.since` writes
    each "how long ago" phrase as a token (`hooks.context_cache.MARK`, this render's
    nonce, the epoch seconds it counts from), which the SessionStart hook turns into text
    at the moment it prints it. In arithmetic it is the plain time."""

    nonce: str

    def since_phrase(self, at: float) -> str:
        from hooks.context_cache import END, MARK

        return f"{MARK}{self.nonce}:{at!r}{END}"


class _Watched:
    """A `Liveness` at a `_Moment` that notes what a rendering read from the moment: each
    process probe and its answer, and the first time at which a stale or old threshold it
    used would decide differently (`until`)."""

    def __init__(self, live: Any) -> None:
        from projections.read.liveness import Liveness
        from projections.text import parse_ts

        watched = self
        self.probes: dict[int, str | None] = {}
        self.until = float("inf")
        moment = _Moment(live.now)
        moment.nonce = os.urandom(8).hex()  # a prompt quoted in the context cannot forge a token

        def probe(pid: int) -> str | None:
            answer: str | None = live.probe(pid)
            watched.probes[pid] = answer
            return answer

        class Watching(Liveness):
            def is_old(self, ts: str) -> bool:
                watched.threshold(parse_ts(ts) + self.old_after)
                return super().is_old(ts)

            def status(self, rec: Any) -> str:
                status = super().status(rec)
                if status != "ended" and rec.pid <= 0:
                    watched.threshold(parse_ts(rec.last_ts) + self.stale_after)
                return status

        self.live = Watching(now=moment, probe=probe, stale_after=live.stale_after, old_after=live.old_after)
        self.nonce = moment.nonce

    def threshold(self, at: float) -> None:
        """A decision flips when the clock passes *at*."""
        if at >= self.live.now:
            self.until = min(self.until, at)


def next_context(views: Any, live: Any, project: str, branch: str, *, max_chars: int) -> dict[str, Any] | None:
    """The context a ``startup`` session of *project* on git *branch* would get right after
    the last event in *views*, with what it depends on (`hooks.context_cache`); None when it
    cannot be stored: no project, a resume request it would consume, lines that did not fit
    (the "ago" phrases are longer tokens until printed: with room for them, the shorter
    phrases fit too, and only the closing "left out" line is chosen again, `footers`), text
    naming the placeholder session or holding a token this render did not write."""
    from hooks.context_cache import END, MARK
    from projections.folds.sessions import SessionRecord
    from projections.read.context import Packer, recovery_context

    if not project:
        return None
    seq = views.seq + 1
    newcomer = SessionRecord(_NEWCOMER, seq, seq, "", "", spans=[[seq, 0]])
    newcomer.project_dir = newcomer.cwd = project
    newcomer.branch = branch
    newcomer.source = newcomer.last_source = "startup"
    newcomer.start_seq, newcomer.starts = seq, 1
    watched = _Watched(live)
    packer = Packer(max_chars)
    text, consumed = recovery_context(views, watched.live, session_id=_NEWCOMER, source="startup",
                                      max_chars=max_chars, always=False, newcomer=newcomer, packer=packer)
    body = "\n".join(packer.lines) + "\n" if text and packer.lines else ""
    footers = packer.footers() if text else []
    if text != _closed(body, footers, max_chars):
        return None  # not the packer's text: nothing to recompute it from
    tokens = body.count(MARK + watched.nonce + ":")
    if (consumed or packer.crowded or _NEWCOMER[:8] in text or body.count(MARK) != tokens
            or body.count(END) != tokens or MARK in "".join(footers) or END in "".join(footers)):
        return None
    # A `startup` gets a new id from Claude Code (``--session-id`` refuses one in use), but
    # one the journal knows would be read as a restart: the hook checks it is not listed.
    known = ",".join(sid[:8] for sid in views.sessions.records)
    if len(known) > _KNOWN_MAX:
        return None
    return {"seq": views.seq, "project": project, "branch": branch, "known": known, "context": body, "footers": footers,
            "max_chars": max_chars, "nonce": watched.nonce, "t0": float(watched.live.now),
            "until": None if watched.until == float("inf") else watched.until,
            "probes": [[pid, answer] for pid, answer in sorted(watched.probes.items())]}


def _closed(body: str, footers: list[str], max_chars: int) -> str:
    """`projections.read.context.Packer.text` from its lines (*body*) and footers
    (`hooks.context_cache.closed` does the same in the hook, after the phrases are written)."""
    from hooks.context_cache import closed

    return closed(body, footers, max_chars)


def _inputs(root: Path) -> list[Any]:
    """What a stored context depends on besides the events (read before and after rendering)."""
    from hooks import context_cache

    return [context_cache.stamp(str(root)), context_cache.config_text(str(root)), context_cache.environment(),
            context_cache.code_stamp(context_cache.CODE_ROOT)]


def _store_next(journal: Any, views: Any, live: Any, rec: Any, before: list[Any], notice: str) -> None:
    """Render and store the context of the next ``startup`` in the project (and on the git
    branch) of session *rec* (never raises: a cache)."""
    from projections.read.context import max_chars_of
    from projections.errors import CacheCorrupt

    try:
        if notice:
            return  # the disk-full notice depends on more than the journal: never cached
        entry = next_context(views, live, rec.project_dir, rec.branch, max_chars=max_chars_of(journal.config.extra))
        if entry is None or _inputs(journal.root) != before:
            return  # rewritten, reconfigured or upgraded while it was read
        from hooks import context_cache

        stamp, config, env, code = before
        entry.update(v=context_cache.VERSION, stamp=stamp, config=config, env=env, code=code)
        context_cache.write(str(journal.root), entry)
    except CacheCorrupt:
        raise  # `query` reads again from the log
    except Exception as e:  # noqa: BLE001 - the next SessionStart renders instead
        from journal.errorlog import log_error

        log_error(journal.root, "context_cache_failed", f"{type(e).__name__}: {e}")


def write_next_context(root: str, session_id: str) -> None:
    """In SessionEnd's detached job: store the context of the next ``startup`` in the project
    of *session_id* (`hooks.context_cache`). Never raises."""
    try:
        from projections.read.context import liveness_for
        from projections.runner import query

        before = _inputs(Path(root))
        journal = _journal(Path(root))
        notice = disk_full_notice(journal)
        live = liveness_for(journal)

        def build(views: Any) -> None:
            rec = views.sessions.records.record(session_id)
            if rec is not None:
                _store_next(journal, views, live, rec, before, notice)

        query(journal, build)
    except Exception as e:  # noqa: BLE001 - the next SessionStart renders instead
        from journal.errorlog import log_error

        log_error(root, "context_cache_failed", f"{type(e).__name__}: {e}")


def _register(root: Path) -> None:
    """Make sure the user-level registry knows this journal (one older than the registry
    joins it here; new ones are registered by the hook that creates them)."""
    from journal.errors import JournalError

    try:
        from journal.registry import register

        register(root)
    except (OSError, JournalError) as e:
        from journal.errorlog import log_error

        log_error(root, "registry_failed", f"cannot add {root} to the journal registry: {e}")


def precompact(root: Path, session_id: str) -> dict[str, Any]:
    """The session's state just before compaction, for ``data._journal.capture``."""
    from projections.read.capture import precompact_capture

    return {"capture": precompact_capture(_journal(root), session_id)}


def main(argv: list[str] | None = None) -> int:
    """``render.py session-start ROOT SESSION SOURCE [PROJECT]`` | ``render.py precompact ROOT SESSION``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) in (4, 5) and args[0] == "session-start":
        out = session_start(Path(args[1]), *args[2:])
    elif len(args) == 3 and args[0] == "precompact":
        out = precompact(Path(args[1]), args[2])
    else:
        print("usage: render session-start ROOT SESSION SOURCE [PROJECT] | precompact ROOT SESSION", file=sys.stderr)
        return 2
    import json

    sys.stdout.write(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
