"""Small pieces: liveness, id prefixes, --at and durations, payload views, the cache file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from projections.cache import decode_state, encode_state
from projections.errors import AmbiguousId, ProjectionError, UnknownId
from projections.ids import resolve_prefix
from projections.read.liveness import Liveness, proc_probe, session_status, stale_after_from
from projections.folds.sessions import SESSIONS, SessionRecord
from projections.timeref import parse_at, parse_duration, parse_time, ts_text
from projections.views import PromptView, SessionStartView, ToolView, agent_response, decode_view

NOW = 1_764_072_000.0


def rec(**kw: object) -> SessionRecord:
    base = dict(id="s", first_seq=1, last_seq=1, first_ts=ts_text(NOW - 60), last_ts=ts_text(NOW - 60))
    base.update(kw)
    return SessionRecord(**base)  # type: ignore[arg-type]


def test_proc_probe_sees_this_process_and_not_a_dead_one() -> None:
    start = proc_probe(os.getpid())
    assert start and start.isdigit()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert proc_probe(child.pid) in (None, proc_probe(child.pid))  # gone (or, rarely, reused)
    assert proc_probe(2**22 + 12345) is None


@pytest.mark.parametrize(
    ("kw", "probe", "expected"),
    [
        ({"ended": "t", "pid": 5, "pstart": "1"}, lambda p: None, "ended"),
        ({"pid": 5, "pstart": "1"}, lambda p: None, "crashed"),
        ({"pid": 5, "pstart": "1"}, lambda p: "2", "crashed"),  # the pid was reused
        ({"pid": 5, "pstart": "1"}, lambda p: "1", "active"),
        ({"pid": 5, "pstart": "1"}, lambda p: "", "active"),  # alive, start time unknown (no /proc)
        ({}, lambda p: None, "active"),
        ({"last_ts": ts_text(NOW - 7200)}, lambda p: None, "stale"),
    ],
)
def test_session_status(kw: dict[str, object], probe: object, expected: str) -> None:
    assert session_status(rec(**kw), now=NOW, probe=probe, stale_after=1800) == expected  # type: ignore[arg-type]


def test_liveness_probes_each_session_once() -> None:
    calls = []
    live = Liveness(now=NOW, probe=lambda p: calls.append(p) or None)
    r = rec(pid=9, pstart="1")
    assert live.status(r) == live.status(r) == "crashed"
    assert calls == [9]


def test_stale_after_precedence() -> None:
    assert stale_after_from({}, {}) == 1800
    assert stale_after_from({"projections": {"stale_after": "2h"}}, {}) == 7200
    assert stale_after_from({"projections": {"stale_after": 60}}, {"AGENT_JOURNAL_STALE_AFTER": "5m"}) == 300


def test_resolve_prefix() -> None:
    ids = ["771073e4-aaaa", "77447ded-bbbb", "29c6df8d-cccc"]
    assert resolve_prefix("29", ids) == "29c6df8d-cccc"
    assert resolve_prefix("77447ded-bbbb", ids) == "77447ded-bbbb"
    with pytest.raises(AmbiguousId, match="'77' is ambiguous: matches 771073e4.*77447ded.*give more characters"):
        resolve_prefix("77", ids)
    with pytest.raises(UnknownId, match="no session matches 'ff'"):
        resolve_prefix("ff", ids)
    with pytest.raises(UnknownId, match="no agent matches"):
        resolve_prefix("x", [], "agent")
    assert resolve_prefix("ab", ["ab", "abc"]) == "ab"  # an exact id wins over longer ones


def test_durations_and_times() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("2w") == 14 * 86400
    with pytest.raises(ProjectionError, match="duration"):
        parse_duration("soon")
    assert parse_time("2025-11-25T12:00:00Z") == NOW
    assert parse_time("2025-11-25 12:00") == NOW
    assert parse_time("2025-11-25T13:00:00+01:00") == NOW
    assert parse_at("1200") == ("seq", 1200)
    assert parse_at("2h", now=NOW) == ("time", NOW - 7200)
    assert parse_at("2025-11-25")[0] == "time"
    with pytest.raises(ProjectionError):
        parse_at("nonsense")
    assert ts_text(NOW) == "2025-11-25T12:00:00.000000Z"


def test_views_decode_only_what_they_need_and_never_reject() -> None:
    raw = msgspec.json.encode({"tool_name": "Bash", "tool_use_id": "t", "tool_input": {"command": "ls", "x": [1]},
                               "tool_response": {"huge": "y" * 1000}, "unknown": {"a": 1}})
    view = decode_view(ToolView, raw)
    assert view.tool_name == "Bash" and view.tool_input.command == "ls"
    odd = decode_view(ToolView, msgspec.json.encode({"tool_name": 5, "tool_use_id": "t", "tool_input": "ls"}))
    assert odd.tool_name == "" and odd.tool_use_id == "t" and odd.tool_input is None
    nested = decode_view(SessionStartView, msgspec.json.encode(
        {"source": "resume", "_journal": {"process": {"pid": "12"}, "git_branch": "main"}}))
    assert nested.source == "resume" and nested.journal.git_branch == "main"
    assert nested.journal.process is None or nested.journal.process.pid == 0  # a bad pid is no pid
    assert decode_view(PromptView, b"[1, 2]").prompt == ""
    assert decode_view(PromptView, b"not json").prompt == ""
    assert agent_response(msgspec.json.encode({"tool_response": {"agentId": "a1", "content": []}})) == "a1"
    assert agent_response(msgspec.json.encode({"tool_response": "text"})) == ""


def test_cache_rejects_what_it_should() -> None:
    state = SESSIONS.initial()
    state.records["s"] = rec()
    data = encode_state(SESSIONS, state, journal_id="j", epoch=3, seq=7)
    seq, loaded = decode_state(SESSIONS, data, journal_id="j", epoch=3)
    assert seq == 7 and loaded.records.record("s") == rec()
    assert decode_state(SESSIONS, data, journal_id="other", epoch=3) is None
    assert decode_state(SESSIONS, data, journal_id="j", epoch=4) is None  # repaired or compacted since
    assert decode_state(SESSIONS, data[:-1], journal_id="j", epoch=3) is None
    assert decode_state(SESSIONS, b"", journal_id="j", epoch=3) is None
    assert decode_state(SESSIONS, b"AJPC" + data[4:12] + b"x" * 40, journal_id="j", epoch=3) is None


def _loaded(n: int = 3) -> tuple[object, bytes]:
    state = SESSIONS.initial()
    for i in range(n):
        state.records[f"s{i}"] = rec(id=f"s{i}", last_seq=i + 1)
    data = encode_state(SESSIONS, state, journal_id="j", epoch=0, seq=9)
    loaded = decode_state(SESSIONS, data, journal_id="j", epoch=0)
    assert loaded is not None
    return loaded[1].records, data


@pytest.mark.parametrize("path", [
    "getitem", "get", "record", "pop", "setdefault", "popitem", "values", "items", "records", "records_reversed",
    "dict", "splat", "copy",
])
def test_a_cached_record_map_gives_records_on_every_access_path(path: str) -> None:
    """Fold handlers and readers never see a cache index, whichever way they read the map."""
    records, _ = _loaded()
    got = {
        "getitem": lambda m: [m["s1"]],
        "get": lambda m: [m.get("s1"), m.get("nope", rec(id="dflt"))],
        "record": lambda m: [m.record("s2")],
        "pop": lambda m: [m.pop("s0"), m.pop("nope", rec(id="dflt"))],
        "setdefault": lambda m: [m.setdefault("s1", None)],
        "popitem": lambda m: [m.popitem()[1]],
        "values": lambda m: list(m.values()),
        "items": lambda m: [v for _, v in m.items()],
        "records": lambda m: [v for _, v in m.records()],
        "records_reversed": lambda m: [v for _, v in m.records_reversed()],
        "dict": lambda m: list(dict(m).values()),
        "splat": lambda m: list({**m}.values()),
        "copy": lambda m: list(m.copy().values()),
    }[path](records)
    assert got and all(isinstance(v, SessionRecord) for v in got), got


def test_a_cached_record_map_keeps_order_and_equals_its_decoded_self() -> None:
    records, _ = _loaded()
    plain_map = SESSIONS.initial().records
    for i in range(3):
        plain_map[f"s{i}"] = rec(id=f"s{i}", last_seq=i + 1)
    assert records == plain_map and list(records) == ["s0", "s1", "s2"]
    rec1 = records["s1"]
    del records["s1"]
    records["s1"] = rec1  # a handler moving a session to the end (most recent)
    assert list(records) == ["s0", "s2", "s1"] and records.blobs()[0] == ["s0", "s2", "s1"]


def test_a_damaged_cached_record_names_the_file_and_key() -> None:
    from projections.cache import read_state
    from projections.errors import CacheCorrupt

    _, data = _loaded()
    damaged = bytearray(data)
    damaged[-2] ^= 0x55  # inside the last record
    _, state = read_state(SESSIONS, bytes(damaged), journal_id="j", epoch=0, source="/x/cache/sessions.msgpack")
    assert isinstance(state.records["s0"], SessionRecord)
    with pytest.raises(CacheCorrupt, match=r"^/x/cache/sessions.msgpack: cached record 's2' fails its checksum"):
        state.records.get("s2")


def test_a_damaged_cache_header_names_the_file_and_field() -> None:
    import struct

    from journal.storage.codec import crc32
    from projections.cache import CacheHeader, read_state
    from projections.errors import CacheCorrupt

    _, data = _loaded()
    size = struct.unpack("<I", data[4:8])[0]
    header = msgspec.msgpack.decode(data[12 : 12 + size])

    def rewritten(**fields: object) -> bytes:
        raw = msgspec.msgpack.encode({**header, **fields})
        return b"AJPC" + struct.pack("<II", len(raw), crc32(raw)) + raw + data[12 + size :]

    def error(buf: bytes) -> str:
        with pytest.raises(CacheCorrupt) as e:
            read_state(SESSIONS, buf, journal_id="j", epoch=0, source="F")
        return str(e.value)

    assert "F: bad header: Expected `int` >= 0 - at `$.seq`" == error(rewritten(seq=-1))
    assert "at `$.crcs[0]`" in error(rewritten(crcs=[-5, 1, 2]))
    assert "at `$.ends`" in error(rewritten(ends=header["ends"][:2]))
    assert "at `$.ends`" in error(rewritten(ends=[*header["ends"][:2], header["ends"][2] + 1]))
    assert "at `$.keys`" in error(rewritten(keys=["s0", "s0", "s1"]))
    assert error(data[:5]).startswith("F: 5 bytes")
    assert error(data[:40]) == "F: the header fails its checksum (torn or altered)"
    assert error(b"XXXX" + data[4:]).startswith("F: not a projection cache")
    assert CacheHeader.__struct_fields__[-3:] == ("keys", "ends", "crcs")
    # Out of date is not damage: another journal or epoch just is not this cache.
    assert read_state(SESSIONS, data, journal_id="other", epoch=0) is None


def test_a_damaged_cache_header_is_replayed_and_noted_in_the_error_log(tmp_path: Path) -> None:
    from journal import Journal
    from projections.runner import load_views, rebuild

    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("SessionStart", {"source": "startup"}, session="s1")
    load_views(journal)
    cache = tmp_path / "j" / "cache" / "sessions.msgpack"
    data = bytearray(cache.read_bytes())
    data[13] ^= 0x55  # inside the header: its checksum no longer matches
    cache.write_bytes(bytes(data))
    views = load_views(journal, save=False)
    assert views.sessions.records.record("s1") is not None and views.cached["sessions"] == 0
    assert views.damaged["sessions"] == f"{cache}: the header fails its checksum (torn or altered)"
    log = (tmp_path / "j" / "errors.log").read_text()
    assert "cache_damaged" in log and "sessions.msgpack: the header fails its checksum" in log
    report = rebuild(journal)["projections"]["sessions"]
    assert report["agreed"] is False and report["why"].startswith("the cache is damaged: "), report


def test_cache_files_are_private_and_atomic(tmp_path: Path) -> None:
    from journal import Journal
    from projections.runner import load_views

    journal = Journal.open(tmp_path / "j", durability="flush")
    journal.append("SessionStart", {"source": "startup"}, session="s1")
    load_views(journal)
    files = sorted((tmp_path / "j" / "cache").iterdir())
    assert [f.name for f in files] == ["agents.msgpack", "archive.msgpack", "resumes.msgpack", "sessions.msgpack"]
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def test_warm_context_decodes_a_bounded_number_of_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SessionStart context reads a window of sessions, not all of them (cost flat in the log)."""
    from journal import Journal, NewEvent
    from projections.base import LazyRecordMap
    from projections.read.context import session_start_context
    from projections.runner import load_views

    journal = Journal.open(tmp_path / "j", durability="flush")
    events = []
    for i in range(400):
        sid = f"s{i:04d}"
        events += [NewEvent("SessionStart", {"source": "startup", "cwd": "/p"}, sid, ts=ts_text(NOW + i)),
                   NewEvent("UserPromptSubmit", {"prompt": f"task {i}"}, sid, ts=ts_text(NOW + i)),
                   NewEvent("Stop", {"last_assistant_message": "done"}, sid, ts=ts_text(NOW + i)),
                   NewEvent("SessionEnd", {"reason": "other"}, sid, ts=ts_text(NOW + i))]
    journal.append_many(events)
    load_views(journal)  # writes the caches
    loads = []
    real = LazyRecordMap._decode

    def counting(self: LazyRecordMap, key: str, index: int) -> object:
        loads.append(key)
        return real(self, key, index)

    monkeypatch.setattr(LazyRecordMap, "_decode", counting)
    text, _ = session_start_context(journal, "brand-new", "startup", now=NOW + 500, probe=lambda p: None)
    # every session ended normally: only the previous one is described
    assert "## Previous session here s0399" in text and "Crashed" not in text
    assert 0 < len(loads) <= 20, len(loads)
    loads.clear()
    text, _ = session_start_context(journal, "s0399", "resume", now=NOW + 500, probe=lambda p: None)
    assert "## Related earlier sessions" in text  # they share the keyword "task"
    assert len(loads) <= 250, len(loads)  # the related-sessions window, not all 400
    views = load_views(journal)
    assert views.folded == 0 and views.cached["sessions"] == 1600


def test_what_the_context_leaves_out_is_counted_in_good_english() -> None:
    from projections.read.context import Packer

    for total, said in ((2, "1 more earlier session "), (3, "2 more earlier sessions ")):
        packer = Packer(200)
        items = [(f"- session {i} " + "x" * 60, str(i)) for i in range(total)]
        assert packer.add_list(["## Recent sessions"], items, noun="earlier sessions", cmd="agent-journal sessions") == 1
        assert said in packer.text().splitlines()[-1], packer.text()
    packer = Packer(40)
    packer.add_list(["## Recent sessions"], [("- one session " + "x" * 60, "1")], noun="earlier sessions")
    assert packer.text().splitlines()[-1].startswith("_Left out: 1 earlier session"), packer.text()
