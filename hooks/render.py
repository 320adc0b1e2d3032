"""Rendering for hooks: the SessionStart recovery context and the PreCompact capture.

Needs msgspec (through `projections`). The launcher calls these in-process when the
interpreter has msgspec, else runs ``python -m hooks.render`` in an interpreter that
does (see `hooks.runtime`), passing arguments and reading one JSON object back.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["session_start", "precompact", "main"]


def _journal(root: Path):  # type: ignore[no-untyped-def]
    from journal import Journal

    return Journal.open(root, create=False)


def session_start(root: Path, session_id: str, source: str, project: str = "") -> dict[str, Any]:
    """``{"context": markdown or "", "consumed": [resume request seqs]}`` for a starting session.

    With ``context.write_dir`` set, the @import files in *project* are refreshed from the
    same fold (`projections.read.memory_files.keep_fresh`)."""
    from projections.read.context import max_chars_of, session_start_context
    from projections.read.memory_files import keep_fresh, write_dir_of

    journal = _journal(root)
    _register(root)
    max_chars = max_chars_of(journal.config.extra)

    def refresh(views: Any, live: Any) -> None:
        keep_fresh(journal, project, views, live)  # never raises: one errors.log line

    also = refresh if project and write_dir_of(journal.config.extra) else None
    notice = disk_full_notice(journal)
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


def _register(root: Path) -> None:
    """Make sure the user-level registry knows this journal (one older than the registry
    joins it here; new ones are registered by the hook that creates them)."""
    from journal.errors import JournalError

    try:
        from journal.registry import register

        register(root)
    except (OSError, JournalError) as e:
        from journal.layout import log_error

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
    sys.stdout.write(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
