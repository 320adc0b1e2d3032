"""The recovery context: the markdown a starting Claude Code session is given.

Most important first: an explicitly requested resume (``agent-journal resume``), then
sessions running right now in another window (never offered for takeover), the
crashed or interrupted sessions of the project that nobody picked up yet (last
prompts, the tool call in flight, files, last checkpoint; older than
``Liveness.old_after``: one line), orphaned and blocked agents with the command to
continue them, related earlier sessions, the previous session (with its last
message and decisions), and recent sessions. `Packer` enforces a hard cap
(`DEFAULT_MAX_CHARS`; Claude Code spills ``additionalContext`` over 10,000
characters to a file): whole lines only, a block is kept whole or replaced by its
one-line form, and a last line says what was left out and how to see it. The text is
a function of the log and the reading moment (liveness) only, so the same log gives
the same text.

Only a bounded window of recent sessions and unfinished agents is read (`WINDOW`, plus
up to `OPEN_SCAN` sessions without a SessionEnd for counting crashes), so the cost does
not grow with the journal's age.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from projections.read.capture import capture_of, read_capture
from projections.read.liveness import Liveness, Probe, old_after_from, stale_after_from
from projections.read.markdown import (
    agent_line,
    call_line,
    capture_block,
    related_line,
    running_block,
    session_block,
    session_line,
)
from projections.read.queries import agent_status, interrupted, running_elsewhere, session_archived, unfinished
from projections.read.related import related_for_context
from projections.folds.resumes import pending_requests
from projections.runner import Views, query
from projections.folds.sessions import SessionRecord
from projections.text import since

if TYPE_CHECKING:
    from journal import Journal

__all__ = [
    "DEFAULT_MAX_CHARS",
    "max_chars_of",
    "WINDOW",
    "Packer",
    "session_start_context",
    "recovery_context",
    "session_context",
    "compact_context",
    "liveness_for",
]

#: The context's size when neither ``--max-chars`` nor ``context.max_chars`` says otherwise:
#: under Claude Code's 10,000 characters, and under `hooks.launch.CONTEXT_HARD_CAP`.
DEFAULT_MAX_CHARS = 9000
#: The smallest ``context.max_chars`` honoured (a smaller one reads as the default).
_MIN_MAX_CHARS = 200
def max_chars_of(extra: Mapping[str, Any]) -> int:
    """The context cap that config (`JournalConfig.extra`) sets: ``context.max_chars``,
    or `DEFAULT_MAX_CHARS` when it is missing or below 200."""
    section = extra.get("context")
    value = section.get("max_chars", DEFAULT_MAX_CHARS) if isinstance(section, Mapping) else DEFAULT_MAX_CHARS
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= _MIN_MAX_CHARS
    return value if ok else DEFAULT_MAX_CHARS


#: How many recently active sessions are looked at for crashes and the recent list.
WINDOW = 12
#: How many interrupted sessions get a full block (the others get one line).
FULL_BLOCKS = 3
#: How many more interrupted sessions get one line each (the rest are counted in the last line).
LINES_SHOWN = 10
#: How many sessions without a SessionEnd are looked at beyond the window (the most recently
#: (re)started; each is decoded and its process probed, so this bounds the cost of a context
#: in a journal where crashes accumulated: older ones are listed by `sessions --status crashed`).
OPEN_SCAN = 100
AGENT_WINDOW = 50
RECENT_SHOWN = 5
_FOOTER_RESERVE = 260
_HINT = "more: `agent-journal sessions`, `agent-journal agents`, `agent-journal context --session <id>`"



def _counted(n: int, noun: str) -> str:
    """``"3 earlier sessions"``, ``"1 earlier session"``: *noun* is given in the plural."""
    return f"{n} {noun if n != 1 else noun.removesuffix('s')}"

class Packer:
    """Whole lines under a character cap, with a record of what did not fit.

    ``omitted`` holds ``(what, command)`` pairs: each thing left out and the command
    that shows it; the last line of `text` names them all (how many, and where).
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.lines: list[str] = []
        self.size = 0
        self.omitted: list[tuple[str, str]] = []
        self.reserve = min(_FOOTER_RESERVE, max_chars // 3)
        #: Some lines did not fit (the text depends on how long its lines are).
        self.crowded = False

    @staticmethod
    def cost(lines: list[str]) -> int:
        return sum(len(line) + 1 for line in lines)

    def fits(self, lines: list[str]) -> bool:
        if self.size + self.cost(lines) <= self.max_chars - self.reserve:
            return True
        self.crowded = True
        return False

    def leave_out(self, what: str, cmd: str = "") -> None:
        """Note *what* as left out, shown by *cmd*."""
        self.omitted.append((what, cmd))

    def add(self, lines: list[str], *, what: str = "", short: list[str] | None = None, cmd: str = "") -> bool:
        """Add *lines* whole, else their *short* form (noting the details left out), else nothing."""
        if lines and self.fits(lines):
            self.lines += lines
            self.size += self.cost(lines)
            return True
        if short and self.fits(short):
            self.lines += short
            self.size += self.cost(short)
            if what:
                self.leave_out(f"details of {what}", cmd)
            return True
        if what:
            self.leave_out(what, cmd)
        return False

    def add_list(self, heading: list[str], items: list[tuple[str, str]], *, noun: str, cmd: str = "",
                 more: int = 0) -> int:
        """A heading and its items (``(line, what)``), as many as fit; returns how many did.

        *more* items exist beyond *items* (not offered at all); they count as left out.
        """
        if not items:
            if more:
                self.leave_out(f"{more} {noun}", cmd)
            return 0
        if not self.fits(heading + [items[0][0]]):
            self.leave_out(_counted(len(items) + more, noun), cmd)
            return 0
        self.add(heading)
        added = 0
        for line, _ in items:
            if not self.fits([line]):
                break
            self.add([line])
            added += 1
        left = len(items) - added + more
        if left:
            self.leave_out(_counted(left, "more " + noun), cmd)
        return added

    def text(self) -> str:
        """The document, with a closing line naming what was left out (if anything was)."""
        lines = list(self.lines)
        if self.omitted:
            footer = self._footer(self.max_chars - self.size - 1)
            if footer:
                lines.append(footer)
        return "\n".join(lines) + "\n" if lines else ""

    def footers(self) -> list[str]:
        """Each "left out" line the text may close with, in order of preference: `text` uses
        the first that fits in the room its lines leave."""
        n = len(self.omitted)
        if not n:
            return []
        parts = [f"{what} (`{cmd}`)" if cmd else what for what, cmd in self.omitted]
        bare = [what for what, _ in self.omitted]
        out = []
        for items, hint in ((parts, ""), (bare, _HINT), (bare, "run `agent-journal context`")):
            for keep in range(n, 0, -1):
                listed = "; ".join(items[:keep]) + (f"; and {n - keep} more" if keep < n else "")
                out.append(f"_Left out: {listed}" + (f"; {hint}" if hint else "") + "._")
        return out + [f"_Left out: {n} part{'s' * (n != 1)}; run `agent-journal context`._", "_(cut short)_"]

    def _footer(self, room: int) -> str:
        """The longest "left out" line that fits in *room* characters ("" if none does)."""
        return next((footer for footer in self.footers() if len(footer) <= room), "")


def liveness_for(journal: Journal, now: float | None = None, probe: Probe | None = None) -> Liveness:
    """The reading moment for *journal*: clock, probe and its configured thresholds."""
    extra = journal.config.extra
    return Liveness(now=now, probe=probe, stale_after=stale_after_from(extra), old_after=old_after_from(extra))


def _in_project(rec: SessionRecord, project: str) -> bool:
    return not project or not rec.project_dir or rec.project_dir == project


def _window(views: Views, live: Liveness, exclude: str | None, project: str) -> list[SessionRecord]:
    out = []
    for _, rec in views.sessions.records.records_reversed():
        if rec.id == exclude or session_archived(views, rec) or not _in_project(rec, project):
            continue
        out.append(rec)
        if len(out) >= WINDOW:
            break
    return out


def _open_sessions(views: Views, window: list[SessionRecord], exclude: str | None,
                   project: str, scan: int = OPEN_SCAN) -> list[SessionRecord]:
    """The window, then every other session without a SessionEnd (newest start first, the
    *scan* newest looked at)."""
    out = list(window)
    seen = {rec.id for rec in window}
    for i, sid in enumerate(reversed(list(views.sessions.meta.open))):
        if i >= scan:
            break
        if sid in seen or sid == exclude:
            continue
        rec = views.sessions.records.record(sid)
        if rec is None or session_archived(views, rec) or not _in_project(rec, project):
            continue
        seen.add(sid)
        out.append(rec)
    return out


def _label(rec: SessionRecord, status: str) -> str:
    return {"crashed": "Crashed session", "stale": "Possibly interrupted session (stale)"}.get(
        status, "Interrupted session")


def _agents_of(views: Views, live: Liveness, sid: str) -> list[tuple[Any, str]]:
    """The unfinished agents of session *sid* (among the `AGENT_WINDOW` newest unfinished ones)."""
    out = []
    for aid in _unfinished_agent_ids(views):
        rec = views.agents.records.record(aid)
        if rec is not None and rec.parent == sid and not rec.internal:
            out.append((rec, agent_status(views, rec, live)))
    return out


def _unfinished_agent_ids(views: Views) -> list[str]:
    """The newest running agents, then the newest with a declared unfinished status (blocked, ...)."""
    meta = views.agents.meta
    running = list(reversed(list(meta.running)))[:AGENT_WINDOW]
    declared = list(reversed(list(meta.declared)))[:AGENT_WINDOW]
    return running + [aid for aid in declared if aid not in meta.running]


def _agents_needing_attention(views: Views, live: Liveness, project: str,
                              exclude: str | None) -> list[tuple[Any, str, str]]:
    """Orphaned agents and agents declared blocked (or any unfinished status): (record, status, parent status)."""
    out = []
    for aid in _unfinished_agent_ids(views):
        rec = views.agents.records.record(aid)
        if rec is None or rec.internal or rec.dismissed_seq or rec.parent == exclude:
            continue
        status = agent_status(views, rec, live)
        if status in ("running", "completed", "archived"):
            continue
        parent = views.sessions.records.record(rec.parent) if rec.parent else None
        if parent is not None and not _in_project(parent, project):
            continue
        if status == "orphaned" and parent is not None and parent.handed:
            continue  # its session's crash was handed over, and its agents with it
        out.append((rec, status, live.status(parent) if parent is not None else "unknown"))
    return out


def _resume_blocks(packer: Packer, views: Views, live: Liveness) -> tuple[list[int], set[str]]:
    """Each pending resume request's session context; the requests used and the sessions shown."""
    consumed: list[int] = []
    shown: set[str] = set()
    for req in pending_requests(views.resumes):
        rec = views.sessions.records.record(req.session)
        if rec is None:
            packer.add([f"_Resume of session {req.session[:8]} was requested, but the journal has no record of it._"],
                       what="a resume request")
            consumed.append(req.seq)
            continue
        if rec.id in shown:  # asked twice: shown once, both used
            consumed.append(req.seq)
            continue
        status = live.status(rec)
        block = [""] + session_block(rec, status, live.now, label="Resume requested: session",
                                     agents=_agents_of(views, live, rec.id))
        if packer.add(block, what=f"session {rec.id[:8]} (resume requested)", short=block[:2] + block[-1:],
                      cmd=f"agent-journal context --session {rec.id[:8]}"):
            consumed.append(req.seq)
            shown.add(rec.id)
    return consumed, shown


def recovery_context(
    views: Views,
    live: Liveness,
    *,
    session_id: str | None = None,
    source: str = "startup",
    max_chars: int = DEFAULT_MAX_CHARS,
    always: bool = True,
    newcomer: SessionRecord | None = None,
    packer: Packer | None = None,
) -> tuple[str, list[int]]:
    """The context for a session starting in this project, and the resume requests it used.

    With ``always=False`` (what the SessionStart hook wants) the text is ``""`` only when
    no earlier session of the project was recorded and nothing was asked for; otherwise
    the previous session here always gets a block (what it was doing, its files).

    *newcomer* is a session about to start that *views* do not hold yet (its SessionStart
    not folded: the context precomputed for the next ``startup``, `hooks.render`); the
    text is the one *views* with its SessionStart folded in would give. *packer* is filled
    instead of a new ``Packer(max_chars)`` (for a caller that asks what was left out).
    """
    if not views.sessions.records and newcomer is None and not views.resumes.records:
        note = "No Claude Code session has been recorded in this journal yet.\n"
        return (note if always and len(note) <= max_chars else ""), []
    if newcomer is not None:
        current: SessionRecord | None = newcomer
        session_id = newcomer.id
    else:
        current = views.sessions.records.record(session_id) if session_id else None
    project = current.project_dir if current is not None else ""
    requested_ids = {req.session for req in pending_requests(views.resumes)}
    previous_run = current is not None and source == "resume" and (
        current.resumed_after == "no-end" or current.interrupted is not None) and not current.handed
    window = _window(views, live, session_id, project)
    # Folded, the newcomer's start would be the newest open session: the first one scanned.
    scan = OPEN_SCAN - 1 if newcomer is not None else OPEN_SCAN
    candidates = [(rec, live.status(rec)) for rec in _open_sessions(views, window, session_id, project, scan)]
    running = [(rec, st) for rec, st in candidates if running_elsewhere(rec, st)]
    broken = [(rec, st) for rec, st in candidates if unfinished(rec, st) and rec.id not in requested_ids]
    broken.sort(key=lambda item: (item[0].last_ts, item[0].id), reverse=True)
    recent_crashes = [(rec, st) for rec, st in broken if not live.is_old(rec.last_ts)]
    full = recent_crashes[:FULL_BLOCKS]
    lines_for = [item for item in broken if item not in full]
    attention = _agents_needing_attention(views, live, project, session_id)
    unfinished_work = bool(requested_ids or previous_run or broken or attention)

    packer = Packer(max_chars) if packer is None else packer
    if unfinished_work:
        intro = "Earlier sessions here left unfinished work (below); check the files before editing them."
    elif running:
        intro = "Another Claude Code session is working in this project right now (below)."
    else:
        intro = "Nothing was left unfinished by earlier sessions here; for reference, what they did:"
    packer.add(["# Agent Journal: recovery context", intro], what="the introduction")
    consumed, requested = _resume_blocks(packer, views, live)
    worth = bool(consumed)
    if previous_run and current is not None:
        block = [""] + session_block(current, "crashed", live.now, label="This session's previous run",
                                     agents=_agents_of(views, live, current.id), resume_here=False)
        block[2] = "- Status: its previous run stopped without a SessionEnd (crashed or killed)."
        if current.interrupted is not None:
            block.insert(3, "- Tool call in flight when it stopped: " + call_line(current.interrupted,
                                                                                 current.project_dir))
        worth |= packer.add(block[:-1], what="this session's previous run", short=block[:3])
    for rec, _ in running:
        block = [""] + running_block(rec, live.now, agents=_agents_of(views, live, rec.id))
        worth |= packer.add(block, what=f"session {rec.id[:8]} (running now)", short=block[:2] + block[-2:],
                            cmd=f"agent-journal show {rec.id[:8]}")
    for rec, status in full:
        block = [""] + session_block(rec, status, live.now, label=_label(rec, status),
                                     agents=_agents_of(views, live, rec.id))
        worth |= packer.add(block, what=f"session {rec.id[:8]} ({status})",
                            short=[block[0], block[1], session_line(rec, status), block[-1]],
                            cmd=f"agent-journal context --session {rec.id[:8]}")
    shown_lines = lines_for[:LINES_SHOWN]
    items = [(session_line(rec, status) + (f" (last event {since(live.now, rec.last_ts)} ago)"
                                           if live.is_old(rec.last_ts) else ""), rec.id)
             for rec, status in shown_lines]
    heading = ["", "## Other interrupted sessions",
               "Each: `agent-journal context --session <id>` for details, `agent-journal dismiss <id>` once handled."]
    worth |= packer.add_list(heading, items, noun="interrupted sessions", more=len(lines_for) - len(shown_lines),
                             cmd="agent-journal sessions --status interrupted") > 0
    if attention:
        orphan_ids = " ".join(rec.id[:8] for rec, st, _ in attention if st == "orphaned")
        heading = ["", "## Unfinished agents (orphaned when their session ended or crashed, or declared blocked)"]
        if orphan_ids:
            heading.append(f"Continue them: `/agent-journal:resume-agents {orphan_ids}`")
        items = [(agent_line(rec, st, parent), rec.id) for rec, st, parent in attention]
        worth |= packer.add_list(heading, items, noun="unfinished agents", cmd="agent-journal agents") > 0
    shown = {rec.id for rec, _ in broken} | {rec.id for rec, _ in running} | requested
    if current is not None:
        related = related_for_context(views, current, limit=5, exclude=shown)
        if related:
            worth = True
            packer.add_list(["", "## Related earlier sessions"], [(related_line(r), r["id"]) for r in related],
                            noun="related sessions", cmd=f"agent-journal show {current.id[:8]}")
            shown |= {r["id"] for r in related}
    # "What was I doing last time?": the previous session of this project is always worth
    # a block (its prompts, files, checkpoint, last message), even when it ended normally.
    previous = next((rec for rec in window if rec.id not in shown and not rec.handed
                     and (rec.prompts or rec.files)), None)
    if previous is not None and source != "compact":
        status = live.status(previous)
        block = [""] + session_block(previous, status, live.now, label="Previous session here",
                                     agents=_agents_of(views, live, previous.id), full=False)
        if packer.add(block, what=f"session {previous.id[:8]} ({status})",
                      short=[block[0], block[1], session_line(previous, status)],
                      cmd=f"agent-journal context --session {previous.id[:8]}"):
            worth = True
            shown.add(previous.id)
    if not worth and not always:
        return "", consumed
    rest = [rec for rec in window if rec.id not in shown]
    recent = rest[:RECENT_SHOWN]
    more = len(rest) - len(recent)
    if len(window) >= WINDOW:
        # Sessions older than the window are counted, not read, so the cost stays flat.
        in_window = {rec.id for rec in window} | ({current.id} if current is not None else set())
        known = len(views.sessions.records) + (newcomer is not None)
        more += max(0, known - len(in_window) - len(shown - in_window))
    packer.add_list(["", "## Recent sessions"], [(session_line(r, live.status(r)), r.id) for r in recent],
                    noun="earlier sessions", cmd="agent-journal sessions --all", more=more)
    return packer.text(), consumed


def session_context(views: Views, live: Liveness, rec: SessionRecord, *,
                    max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """One session's full recovery context (what ``/agent-journal:resume`` injects).

    It never suggests ``/agent-journal:resume`` itself: this text is what that command shows.
    """
    status = live.status(rec)
    packer = Packer(max_chars)
    if running_elsewhere(rec, status):
        label = "Running session"
    elif interrupted(rec, status):
        label = _label(rec, status)
    else:
        label = f"Session ({status})"
    block = session_block(rec, status, live.now, label=label, agents=_agents_of(views, live, rec.id),
                          resume_here=False)
    packer.add(["# Agent Journal: session context", "", *block],
               what=f"session {rec.id[:8]}", short=["# Agent Journal: session context", "", block[0], block[-1]],
               cmd=f"agent-journal show {rec.id[:8]}")
    orphans = [(a, status) for a, st in _agents_of(views, live, rec.id) if st == "orphaned"]
    if orphans:
        ids = " ".join(a.id[:8] for a, _ in orphans)
        packer.add_list(["", "## Its orphaned agents", f"Continue them: `/agent-journal:resume-agents {ids}`"],
                        [(agent_line(a, "orphaned", st), a.id) for a, st in orphans], noun="orphaned agents",
                        cmd="agent-journal agents --status orphaned")
    related = related_for_context(views, rec, limit=5)
    if related:
        packer.add_list(["", "## Related earlier sessions"], [(related_line(r), r["id"]) for r in related],
                        noun="related sessions", cmd=f"agent-journal show {rec.id[:8]}")
    return packer.text()


def compact_context(journal: Journal, views: Views, session_id: str, *,
                    max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """What this session was doing just before compaction (the PreCompact capture, else the fold)."""
    rec = views.sessions.records.record(session_id)
    if rec is None:
        return ""
    capture = read_capture(journal, rec.precompact_seq) if rec.precompact_seq else None
    when = rec.last_ts
    if capture is None:
        capture = capture_of(rec)
    elif isinstance(capture.get("ts"), str):
        when = capture["ts"]
    block = capture_block(capture, rec, when)
    if len(block) <= 1:
        return ""
    packer = Packer(max_chars)
    packer.add(["# Agent Journal: context from before the compaction",
                "Compaction summarised the conversation; this is what the journal recorded just before it."])
    packer.add([""] + block, what="the pre-compaction state", short=[""] + block[:3])
    return packer.text()


def session_start_context(
    journal: Journal,
    session_id: str,
    source: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    now: float | None = None,
    probe: Probe | None = None,
    also: Callable[[Views, Liveness], object] | None = None,
) -> tuple[str, list[int]]:
    """``(markdown, consumed resume-request seqs)`` for a SessionStart of *source*.

    ``compact``: this session's state from before compaction. ``startup``, ``resume``,
    ``clear``, ``fork``: crashed or interrupted earlier sessions of the project,
    orphaned agents and pending resume requests. ``""`` when there is nothing to say.
    *also* is called with the same views and reading moment (one fold for both).
    """
    live = liveness_for(journal, now, probe)

    def build(views: Views) -> tuple[str, list[int]]:
        if source == "compact":
            out: tuple[str, list[int]] = compact_context(journal, views, session_id, max_chars=max_chars), []
        else:
            out = recovery_context(views, live, session_id=session_id, source=source, max_chars=max_chars,
                                   always=False)
        if also is not None:
            also(views, live)
        return out

    return query(journal, build)
