"""Property tests: for any journal and any split point, cache + incremental == full replay.

For every projection (sessions, agents, archive, resume requests) and for what is
derived from them (timeline, related sessions, the recovery context text), in
memory (state -> cache bytes -> state) and through a real on-disk journal whose
cache files are missing, damaged or outdated.
"""

from __future__ import annotations

import dataclasses
import os
import random
import tempfile
from unittest.mock import patch
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from journal import Journal
from journal.new_event import NewEvent
from projections.base import State, fold, to_builtins
from projections.cache import cache_path, decode_state, encode_state
from projections.read.context import Packer, recovery_context, session_context, session_start_context
from projections.read.liveness import Liveness
from projections.read.related import related_sessions
from projections.folds.agents import AGENTS
from projections.folds.sessions import SESSIONS
from projections.runner import PROJECTIONS, Views, fold_events, load_views, query
from projections.read.timeline import timeline
from tests.projections.strategies import BASE_NS, Draft, journals, to_events, to_new_events
from tests.profiles import examples

NOW = BASE_NS / 1e9 + 86400 * 400


def probe(pid: int) -> str | None:
    """Deterministic liveness: odd pids are alive with start "100", even ones are gone."""
    return "100" if pid % 2 else None


def live() -> Liveness:
    return Liveness(now=NOW, probe=probe, stale_after=1800)


def same(a: State, b: State) -> None:
    x, y = to_builtins(a), to_builtins(b)
    assert x == y
    assert list(x["records"]) == list(y["records"]), "record order (recency) differs"


def full_states(events: list[Any]) -> dict[str, State]:
    pairs = [(p, p.initial()) for p in PROJECTIONS]
    fold_events(pairs, events)
    return {p.name: s for p, s in pairs}


def roundtrip(projection: Any, state: State, seq: int) -> State:
    data = encode_state(projection, state, journal_id="j", epoch=0, seq=seq)
    loaded = decode_state(projection, data, journal_id="j", epoch=0)
    assert loaded is not None and loaded[0] == seq
    return loaded[1]


@given(drafts=journals(), cut=st.floats(0, 1))
@settings(max_examples=examples(150), deadline=None)
def test_every_projection_cached_plus_incremental_equals_full_replay(drafts: list[Draft], cut: float) -> None:
    events = to_events(drafts)
    k = int(len(events) * cut)
    full = full_states(events)
    for projection in PROJECTIONS:
        # the public pure fold, one projection at a time, agrees with the shared one-pass fold
        alone = fold(projection, projection.initial(), events)
        same(alone, full[projection.name])
        # fold a prefix, store it, load it (lazily), fold the rest
        head = fold(projection, projection.initial(), events[:k])
        resumed = fold(projection, roundtrip(projection, head, k), events[k:])
        same(resumed, full[projection.name])
        # twice through the cache, with records left undecoded in between
        again = roundtrip(projection, roundtrip(projection, head, k), k)
        same(fold(projection, again, events[k:]), full[projection.name])


def _views(states: dict[str, State], seq: int) -> Views:
    return Views(states, seq)


@given(drafts=journals(), cut=st.floats(0, 1), cap=st.integers(200, 6000))
@settings(max_examples=examples(100), deadline=None)
def test_derived_views_do_not_depend_on_the_split(drafts: list[Draft], cut: float, cap: int) -> None:
    events = to_events(drafts)
    k = int(len(events) * cut)
    full = _views(full_states(events), len(events))
    head = full_states(events[:k])
    pairs = [(p, roundtrip(p, head[p.name], k)) for p in PROJECTIONS]
    fold_events(pairs, events[k:])
    warm = _views({p.name: s for p, s in pairs}, len(events))
    a = recovery_context(full, live(), max_chars=cap)
    b = recovery_context(warm, live(), max_chars=cap)
    assert a == b
    assert recovery_context(full, live(), max_chars=cap) == a, "not deterministic"
    for sid in list(full.sessions.records):
        r1, r2 = full.sessions.records.record(sid), warm.sessions.records.record(sid)
        assert related_sessions(full, r1) == related_sessions(warm, r2)
        assert session_context(full, live(), r1, max_chars=cap) == session_context(warm, live(), r2, max_chars=cap)
        for source in ("startup", "resume"):
            assert recovery_context(full, live(), session_id=sid, source=source, max_chars=cap, always=False) == \
                recovery_context(warm, live(), session_id=sid, source=source, max_chars=cap, always=False)


class _RecordingPacker(Packer):
    """A packer that remembers every whole line it was offered (kept or not)."""

    offered: set[str] = set()

    def add(self, lines: list[str], *, what: str = "", short: list[str] | None = None, cmd: str = "") -> bool:
        _RecordingPacker.offered.update(lines)
        _RecordingPacker.offered.update(short or [])
        return super().add(lines, what=what, short=short, cmd=cmd)

    def add_list(self, heading: list[str], items: list[tuple[str, str]], *, noun: str, cmd: str = "",
                 more: int = 0) -> int:
        _RecordingPacker.offered.update(heading)
        _RecordingPacker.offered.update(line for line, _ in items)
        return super().add_list(heading, items, noun=noun, cmd=cmd, more=more)


def _check_cap(text: str, cap: int) -> None:
    """At most *cap* characters, and every line is a whole line some renderer produced."""
    assert len(text) <= cap
    for line in text.splitlines():
        if line.startswith("_Left out") or line == "_(cut short)_" or line.startswith("No Claude Code session"):
            continue
        assert line in _RecordingPacker.offered, f"line not whole: {line!r}"


#: Lists the context bounds by count, whatever room is left (`projections.read.context`).
_BOUNDED_LISTS = {"earlier sessions", "interrupted sessions", "unfinished agents", "related sessions"}


@given(drafts=journals(max_steps=60), cap=st.integers(200, 4000))
@settings(max_examples=examples(100), deadline=None)
def test_context_respects_the_cap_keeps_lines_whole_and_says_what_was_left_out(drafts: list[Draft], cap: int) -> None:
    import projections.read.context as context_module

    views = _views(full_states(to_events(drafts)), len(drafts))
    ids = [None, *list(views.sessions.records)]
    with patch.object(context_module, "Packer", _RecordingPacker):
        for sid in ids:
            _RecordingPacker.offered = set()
            whole, _ = recovery_context(views, live(), session_id=sid, max_chars=10**7)
            small, _ = recovery_context(views, live(), session_id=sid, max_chars=cap)
            _check_cap(small, cap)
            # Without a character cap only the bounded lists leave anything out, and say so.
            footer = [line for line in whole.splitlines() if line.startswith("_Left out")]
            assert not footer or all(part.split(" (`")[0].split(" more ")[-1] in _BOUNDED_LISTS
                                     for part in footer[0][len("_Left out: "):-2].split("; ")), footer
            if small != whole:
                assert "_Left out" in small
            if sid is not None:
                rec = views.sessions.records.record(sid)
                _RecordingPacker.offered = set()
                whole = session_context(views, live(), rec, max_chars=10**7)
                small = session_context(views, live(), rec, max_chars=cap)
                _check_cap(small, cap)
                if small != whole:
                    assert "_Left out" in small


@given(items=st.lists(st.text(alphabet="ab -", max_size=300), max_size=40), cap=st.integers(0, 2000))
def test_packer_never_exceeds_the_cap(items: list[str], cap: int) -> None:
    packer = Packer(cap)
    for i, item in enumerate(items):
        if i % 3:
            packer.add([item, item[:10]], what=f"item {i}", short=[item[:5]])
        else:
            packer.add_list(["## h"], [(item, str(i)), (item[::-1], "r")], noun="things")
    text = packer.text()
    assert len(text) <= cap
    if packer.omitted and cap >= 300:
        assert "_Left out" in text


# --------------------------------------------------------------------------- on disk


def _open(root: Path) -> Journal:
    return Journal.open(root, durability="flush")


def _damage(root: Path, how: str, rng: random.Random) -> None:
    for projection in PROJECTIONS:
        path = cache_path(root, projection)
        if not path.exists():
            continue
        data = bytearray(path.read_bytes())
        if how == "delete":
            path.unlink()
        elif how == "truncate":
            path.write_bytes(bytes(data[: rng.randrange(len(data))]))
        elif how == "flip":
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
            path.write_bytes(bytes(data))
        elif how == "garbage":
            path.write_bytes(os.urandom(rng.randrange(0, 64)))
        elif how == "version":
            loaded = decode_state(projection, bytes(data), journal_id=_jid(root), epoch=0)
            if loaded is not None:
                old = type(projection)(projection.name, projection.version + 1, projection.record_type,
                                       projection.meta_type, projection.handlers, projection.default)
                path.write_bytes(encode_state(old, loaded[1], journal_id=_jid(root), epoch=0, seq=loaded[0]))
        elif how == "other-journal":
            loaded = decode_state(projection, bytes(data), journal_id=_jid(root), epoch=0)
            if loaded is not None:
                path.write_bytes(encode_state(projection, loaded[1], journal_id="someone-else", epoch=0, seq=loaded[0]))
        elif how == "future-seq":
            loaded = decode_state(projection, bytes(data), journal_id=_jid(root), epoch=0)
            if loaded is not None:
                path.write_bytes(encode_state(projection, projection.initial(), journal_id=_jid(root), epoch=0,
                                              seq=loaded[0] + 10_000))


def _jid(root: Path) -> str:
    return str(_open(root).manifest().journal_id)


def _dump(journal: Journal, views: Views) -> dict[str, Any]:
    """Every state (in order) and every session's timeline, as plain data."""
    out: dict[str, Any] = {"seq": views.seq}
    for projection in PROJECTIONS:
        b = to_builtins(views.states[projection.name])
        out[projection.name] = (b, list(b["records"]))
    out["timelines"] = {sid: timeline(journal, rec) for sid, rec in views.sessions.records.records()}
    return out


def _same_views(a: Views, b: Views) -> None:
    assert a.seq == b.seq
    for projection in PROJECTIONS:
        same(a.states[projection.name], b.states[projection.name])


@pytest.mark.slow
@given(drafts=journals(max_steps=30), cut=st.floats(0, 1),
       how=st.sampled_from(("none", "delete", "truncate", "flip", "garbage", "version", "other-journal", "future-seq")),
       seed=st.integers(0, 2**16))
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_on_disk_cache_plus_incremental_equals_full_replay(drafts: list[Draft], cut: float, how: str, seed: int) -> None:
    new = to_new_events(drafts)
    k = int(len(new) * cut)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        journal = _open(root)
        if k:
            journal.append_many(new[:k])
        first = load_views(journal)  # no cache yet: full replay, cache written at seq k
        assert first.seq == k
        if new[k:]:
            journal.append_many(new[k:])
        _damage(root, how, random.Random(seed))
        cold = load_views(journal, use_cache=False, save=False)
        expected = _dump(journal, cold)

        def check(warm: Views) -> None:
            assert warm.seq == len(new)
            if how == "none" and k:
                assert warm.cached["sessions"] == k, "the cache was not used"
                assert warm.folded == len(new) - k
            assert _dump(journal, warm) == expected

        query(journal, check)  # a record that fails its checksum while read: replayed, not raised
        sid = drafts[0].session if drafts and drafts[0].session else "none"
        text_warm = session_start_context(journal, sid, "startup", now=NOW, probe=probe)
        for projection in PROJECTIONS:
            cache_path(root, projection).unlink(missing_ok=True)
        text_cold = session_start_context(journal, sid, "startup", now=NOW, probe=probe)
        assert text_warm == text_cold


@given(drafts=journals(max_steps=30), cut=st.floats(0, 1), at=st.floats(0, 1))
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_time_travel_equals_replaying_a_prefix(drafts: list[Draft], cut: float, at: float) -> None:
    assume(drafts)
    new = to_new_events(drafts)
    k, seq = int(len(new) * cut), int(len(new) * at)
    with tempfile.TemporaryDirectory() as tmp:
        journal = _open(Path(tmp) / "journal")
        journal.append_many(new[:k])
        load_views(journal)  # a cache at k, which may be before or after the point asked for
        journal.append_many(new[k:])
        past = load_views(journal, at=seq)
        expected = full_states(to_events(drafts)[:seq])
        assert past.seq == seq
        for projection in PROJECTIONS:
            same(past.states[projection.name], expected[projection.name])


def test_a_damaged_record_inside_a_cache_is_replayed_not_raised(tmp_path: Path) -> None:
    from tests.projections.conftest import payloads, record_payloads

    journal = _open(tmp_path / "journal")
    record_payloads(journal, payloads())
    cold = load_views(journal)  # writes the caches
    path = cache_path(journal.root, PROJECTIONS[0])
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # inside the last record's blob: the header still checks out
    path.write_bytes(bytes(data))
    journal.append("Notification", {"message": "hi"}, session="77447ded-3a63-4e7b-b57f-7751b953796d")
    again = load_views(journal, use_cache=False, save=False)
    assert query(journal, lambda warm: _dump(journal, warm)) == _dump(journal, again)
    assert cold.seq + 1 == again.seq
    assert msgspec.msgpack  # msgspec is what reads the caches


@pytest.mark.parametrize("n", [0, 1])
def test_an_empty_or_tiny_journal_has_empty_views(tmp_path: Path, n: int) -> None:
    journal = _open(tmp_path / "journal")
    if n:
        journal.append("SessionStart", {"source": "startup"}, session="s1")
    views = load_views(journal)
    assert views.seq == n
    assert len(views.sessions.records) == n
    text, consumed = session_start_context(journal, "s1", "startup", now=NOW, probe=probe)
    assert (text, consumed) == ("", [])


@given(drafts=journals(max_steps=30), chunk=st.sampled_from((200, 3000, 1 << 20)))
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_typed_one_pass_read_folds_like_per_event_views(drafts: list[Draft], chunk: int) -> None:
    """load_views decodes each chunk's events and views in one pass (falling back to
    `Event`s for a chunk of unknown types or odd payloads); small reads mix both kinds."""
    with tempfile.TemporaryDirectory() as tmp, patch("journal.storage.reader._CHUNK", chunk):
        journal = _open(Path(tmp) / "journal")
        journal.append_many(to_new_events(drafts))
        views = load_views(journal, use_cache=False, save=False)
        expected = full_states(list(journal.read()))
        assert views.folded == len(drafts)
        for projection in PROJECTIONS:
            same(views.states[projection.name], expected[projection.name])


@given(drafts=journals(max_steps=30))
@settings(max_examples=examples(60), deadline=None)
def test_a_typed_event_carries_the_view_decode_view_gives(drafts: list[Draft]) -> None:
    from journal.storage.codec import encode_record
    from journal.storage.events import EVENT_DECODER, typed_decoder
    from projections.base import plain
    from projections.views import RAW_TYPES, VIEW_TYPES, decode_view

    decoder = typed_decoder({**VIEW_TYPES, **dict.fromkeys(RAW_TYPES, msgspec.Raw)})
    for seq, event in enumerate(to_events(drafts), 1):
        line = encode_record(seq, event.ts, event.type, bytes(event.data), session=event.session, agent=event.agent)
        try:
            typed = decoder.decode(line)
        except msgspec.DecodeError:
            assert event.type not in VIEW_TYPES or decode_view(VIEW_TYPES[event.type], event.data) is not None
            continue  # read as an Event: the per-event path decides
        plain_event = EVENT_DECODER.decode(line)
        assert (typed.seq, typed.ts, typed.type, typed.session, typed.agent, typed.v) == (
            plain_event.seq, plain_event.ts, plain_event.type, plain_event.session, plain_event.agent, plain_event.v)
        view_type = VIEW_TYPES.get(event.type)
        if view_type is None:
            assert bytes(typed.data) == bytes(plain_event.data)
        else:
            want = decode_view(view_type, plain_event.data)
            got = typed.data
            assert type(got) is view_type
            assert {k: v for k, v in plain(got).items() if k != "tool_response"} == {
                k: v for k, v in plain(want).items() if k != "tool_response"}
            if view_type.__name__ in ("ToolView", "LandedView"):  # both keep it raw
                assert msgspec.json.decode(got.tool_response) == msgspec.json.decode(want.tool_response)


# -- the runner's pair shortcut (`Projection.pairs`): a PreToolUse and its PostToolUse at once --

_PAIR_KINDS = ("pre", "post", "call", "call", "call", "burst", "start", "end", "ask", "stop", "subagent_stop",
               "failure", "odd", "unknown")


def _pair_events(steps: list[tuple[str, str, str | None, str, str]]) -> list[NewEvent]:
    """Events whose tool calls often come as adjacent Pre/Post pairs, with every case a pair
    handler must refuse: a new or ended session, a call asking, a reused id, a full
    ``in_flight``, an agent's or an Agent call, odd payloads and unknown types."""
    out: list[NewEvent] = []
    n = 0
    for kind, sid, agent, tool, tid in steps:
        n += 1
        inp: dict[str, Any] = {"file_path": f"/p/{tid}.py"} if tool in ("Read", "Edit", "Write") else {
            "command": f"ls {tid}", "description": "d", "prompt": "p", "subagent_type": "x"}
        call = {"tool_name": tool, "tool_use_id": tid, "tool_input": inp, "extra": {"k": [1, 2]}}

        def add(type_: str, data: dict[str, Any], who: str | None = agent, session: str = sid) -> None:
            out.append(NewEvent(type_, data, session=session, agent=who, ts=f"2026-01-01T00:00:{len(out) % 60:02d}.0Z"))

        if kind in ("pre", "call"):
            add("PreToolUse", call)
        if kind in ("post", "call"):
            add("PostToolUse", {**call, "tool_response": {"agentId": "a9" if tool == "Agent" else "", "ok": True}})
        if kind == "burst":  # fills in_flight past its cap
            for i in range(17):
                add("PreToolUse", {**call, "tool_use_id": f"b{n}-{i}"})
        elif kind == "start":
            add("SessionStart", {"source": "resume" if n % 2 else "startup", "cwd": "/p"})
        elif kind == "end":
            add("SessionEnd", {"reason": "exit"})
        elif kind == "ask":
            add("PermissionRequest", {"tool_name": tool, "tool_input": inp})
        elif kind == "stop":
            add("Stop", {"last_assistant_message": "done"})
        elif kind == "subagent_stop":
            add("SubagentStop", {"agent_id": agent or "a1"})
        elif kind == "failure":
            add("PostToolUseFailure", {**call, "error": "boom"})
        elif kind == "odd":  # a tool_input of the wrong type, then a pair whose ids differ
            add("PreToolUse", {**call, "tool_input": "not an object", "tool_use_id": 7})
            add("PostToolUse", {**call, "tool_use_id": tid + "x"})
        elif kind == "unknown":
            add("SomethingNew", {"tool_use_id": tid})
    return out


_pair_steps = st.lists(
    st.tuples(st.sampled_from(_PAIR_KINDS), st.sampled_from(("s1", "s1", "s1", "s2")), st.sampled_from((None, None, "a1")),
              st.sampled_from(("Read", "Edit", "Write", "Bash", "Agent")), st.sampled_from(("t1", "t2", "t3"))),
    max_size=60,
)


@given(steps=_pair_steps, chunk=st.sampled_from((700, 4000, 1 << 20)))
@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_folding_a_tool_call_s_two_events_at_once_equals_folding_them_one_by_one(
    steps: list[tuple[str, str, str | None, str, str]], chunk: int
) -> None:
    """The typed read folds an adjacent PreToolUse/PostToolUse with the projections' pair
    handlers (or their refusal); the result is the one-event-at-a-time fold's, always."""
    with tempfile.TemporaryDirectory() as tmp, patch("journal.storage.reader._CHUNK", chunk):
        journal = _open(Path(tmp) / "journal")
        events = _pair_events(steps)
        if events:
            journal.append_many(events)
        views = load_views(journal, use_cache=False, save=False)
        expected = full_states(list(journal.read()))
        for projection in PROJECTIONS:
            same(views.states[projection.name], expected[projection.name])


def test_the_pair_shortcut_is_taken_and_refused_where_it_must_be(tmp_path: Path) -> None:
    """Not vacuous: the sessions pair handler folds a plain call and refuses the cases it must."""
    answers: list[bool] = []

    def counting(*args: Any) -> bool:
        answers.append(SESSIONS.pairs[("PreToolUse", "PostToolUse")](*args))
        return answers[-1]

    counted = dataclasses.replace(SESSIONS, pairs={("PreToolUse", "PostToolUse"): counting})
    journal = _open(tmp_path / "journal")
    steps: list[tuple[str, str, str | None, str, str]] = [
        ("start", "s1", None, "Read", "t0"), ("call", "s1", None, "Edit", "t1"),  # taken
        ("pre", "s1", None, "Read", "t2"), ("call", "s1", None, "Read", "t2"),  # the id is already flying
        ("call", "s1", "a1", "Bash", "t3"),  # an agent's call
        ("pre", "s1", "a1", "Read", "t9"), ("post", "s1", None, "Read", "t9"),  # started by an agent
        ("pre", "s1", None, "Read", "t10"), ("post", "s2", None, "Read", "t10"),  # another session's
        ("pre", "s1", None, "Read", "t11"), ("post", "s1", None, "Read", "t12"),  # another call's
        ("pre", "s1", None, "Bash", "t5"), ("ask", "s1", None, "Bash", "t5"), ("call", "s1", None, "Read", "t6"),  # asking
        ("burst", "s1", None, "Read", "t7"), ("call", "s1", None, "Read", "t8"),  # in_flight is full
        ("end", "s1", None, "Read", "t0"), ("call", "s1", None, "Read", "t4"),  # the session is over
    ]
    journal.append_many(_pair_events(steps))
    views = load_views(journal, use_cache=False, save=False, projections=(counted, AGENTS))
    assert answers == [True, False, False, False, False, False, False, False, False]
    expected = full_states(list(journal.read()))
    same(views.states["sessions"], expected["sessions"])
    assert views.states["sessions"].records["s1"].files == {"/p/t1.py": 1}
