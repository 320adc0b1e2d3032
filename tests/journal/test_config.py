"""Settings (file < environment < overrides, bad values refused clearly) and the record size cap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import ConfigError, InvalidEvent, Journal, JournalConfig, NewEvent, RecordTooLarge, load_config

# -- precedence ----------------------------------------------------------------------------


def _write_config(root: Path, doc: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "config.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_defaults() -> None:
    config = load_config(None, {})
    assert config == JournalConfig()
    assert (config.segment_bytes, config.durability, config.max_record_bytes, config.lock_timeout) == (
        64 * 1024 * 1024, "fsync", 1024 * 1024, 10.0)


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    _write_config(tmp_path, {"segment_bytes": 8192, "durability": "flush", "lock_timeout": 3,
                             "max_record_bytes": 4096, "redaction": {"salt": "pepper"}})
    from_file = load_config(tmp_path, {})
    assert (from_file.segment_bytes, from_file.durability, from_file.lock_timeout, from_file.max_record_bytes) == (
        8192, "flush", 3.0, 4096)
    assert dict(from_file.extra) == {"redaction": {"salt": "pepper"}}  # other layers' sections pass through

    env = {"AGENT_JOURNAL_SEGMENT_BYTES": "16384", "AGENT_JOURNAL_DURABILITY": "fsync",
           "AGENT_JOURNAL_LOCK_TIMEOUT": "0.5", "AGENT_JOURNAL_MAX_RECORD_BYTES": ""}  # empty: unset
    from_env = load_config(tmp_path, env)
    assert (from_env.segment_bytes, from_env.durability, from_env.lock_timeout, from_env.max_record_bytes) == (
        16384, "fsync", 0.5, 4096)

    overridden = load_config(tmp_path, env, segment_bytes=32768, durability=None, lock_timeout=0)
    assert (overridden.segment_bytes, overridden.durability, overridden.lock_timeout) == (32768, "fsync", 0.0)


def test_journal_open_applies_the_same_order(journal_dir: Path) -> None:
    Journal.open(journal_dir)
    _write_config(journal_dir, {"segment_bytes": 8192})
    assert Journal.open(journal_dir, environ={}).config.segment_bytes == 8192
    env = {"AGENT_JOURNAL_SEGMENT_BYTES": "12288"}
    assert Journal.open(journal_dir, environ=env).config.segment_bytes == 12288
    assert Journal.open(journal_dir, environ=env, segment_bytes=20480).config.segment_bytes == 20480


def test_an_empty_config_file_means_defaults(tmp_path: Path) -> None:
    _write_config(tmp_path, "  \n")
    assert load_config(tmp_path, {}) == JournalConfig()


# -- bad values --------------------------------------------------------------------------------

FILE = "<file>"


@pytest.mark.parametrize("source,doc,message", [
    ("file", {"durability": "sometimes"}, f"{FILE}: durability must be one of fsync, flush, got 'sometimes'"),
    ("file", {"durability": 1}, f"{FILE}: durability must be a string, got 1"),
    ("file", {"segment_bytes": 100}, f"{FILE}: segment_bytes must be an integer >= 4096, got 100"),
    ("file", {"segment_bytes": "big"}, f"{FILE}: segment_bytes must be a number, got 'big'"),
    ("file", {"segment_bytes": 8192.5}, f"{FILE}: segment_bytes must be an integer, got 8192.5"),
    ("file", {"segment_bytes": True}, f"{FILE}: segment_bytes must be a number, got True"),
    ("file", {"max_record_bytes": 10}, f"{FILE}: max_record_bytes must be an integer between 1024 and 67108864"),
    ("file", {"lock_timeout": -1}, f"{FILE}: lock_timeout must be a number of seconds >= 0, got -1.0"),
    ("file", {"lock_timeout": "soon"}, f"{FILE}: lock_timeout must be a number, got 'soon'"),
    ("file", {"lock_timeout": False}, f"{FILE}: lock_timeout must be a number, got False"),
    ("file", {"lock_timeout": [1]}, "lock_timeout must be a number of seconds >= 0, got [1]"),
    ("file", "{not json", f"{FILE} is not valid JSON"),
    ("file", "[1, 2]", f"{FILE} must hold a JSON object"),
    ("env", {"AGENT_JOURNAL_SEGMENT_BYTES": "4k"}, "AGENT_JOURNAL_SEGMENT_BYTES: segment_bytes must be a number, got '4k'"),
    ("env", {"AGENT_JOURNAL_SEGMENT_BYTES": "1024"}, "AGENT_JOURNAL_SEGMENT_BYTES: segment_bytes must be an integer >= 4096"),
    ("env", {"AGENT_JOURNAL_DURABILITY": "never"}, "AGENT_JOURNAL_DURABILITY: durability must be one of fsync, flush"),
    ("env", {"AGENT_JOURNAL_LOCK_TIMEOUT": "nan"}, "AGENT_JOURNAL_LOCK_TIMEOUT: lock_timeout must be a number of seconds >= 0, got nan"),
    ("override", {"durability": "x"}, "override: durability must be one of fsync, flush, got 'x'"),
    ("override", {"segment_bytes": "x"}, "segment_bytes: segment_bytes must be a number, got 'x'"),
    ("override", {"colour": "blue"}, "unknown journal setting 'colour'"),
])
def test_bad_values_raise_config_error_naming_the_source(tmp_path: Path, source: str, doc: Any, message: str) -> None:
    path = tmp_path / "config.json"
    with pytest.raises(ConfigError) as info:
        if source == "file":
            _write_config(tmp_path, doc)
            load_config(tmp_path, {})
        elif source == "env":
            load_config(tmp_path, doc)
        else:
            load_config(tmp_path, {}, **doc)
    assert message.replace(FILE, str(path)) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_config_is_one_cli_error_line(journal_dir: Path) -> None:
    Journal.open(journal_dir)
    _write_config(journal_dir, {"durability": "sometimes"})
    result = CliRunner().invoke(cli, ["--journal", str(journal_dir), "append", "note"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {journal_dir / 'config.json'}: durability must be one of fsync, flush, got 'sometimes'\n"
    assert "Traceback" not in result.output


# -- record size --------------------------------------------------------------------------------


def _snapshot(root: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*") if p.is_file()
                  and p.name != "errors.log")


def test_a_record_over_the_limit_raises_and_writes_nothing(journal_dir: Path) -> None:
    journal = Journal.open(journal_dir, max_record_bytes=1024)
    journal.append("small", {"pad": "x" * 100})
    before = _snapshot(journal_dir)
    with pytest.raises(RecordTooLarge, match=r"a big record would be up to 2,\d{3} bytes, over the 1,024-byte limit"):
        journal.append("big", {"pad": "x" * 2000})
    # In a batch, one record too large stops the whole batch before anything is written.
    with pytest.raises(RecordTooLarge):
        journal.append_many([NewEvent("ok", {"a": 1}), NewEvent("big", {"pad": "é" * 600}), NewEvent("ok")])
    assert _snapshot(journal_dir) == before
    assert journal.append("small") == 2
    assert journal.verify().ok


def test_the_limit_is_on_encoded_bytes(journal_dir: Path) -> None:
    """Multi-byte UTF-8 counts as bytes: 400 characters of '€' are 1200 bytes of payload."""
    journal = Journal.open(journal_dir, max_record_bytes=1024)
    journal.append("fits", {"pad": "e" * 800})
    with pytest.raises(RecordTooLarge):
        journal.append("too-big", {"pad": "€" * 400})  # 1200 bytes of payload


def test_no_record_on_disk_exceeds_the_limit(journal_dir: Path) -> None:
    """The cap holds for the record as written: with its real seq, and with the "src" a
    merge from the spool adds; the room kept for those stays under 100 bytes."""
    limit = 1024
    journal = Journal.open(journal_dir, max_record_bytes=limit, durability="flush")
    journal.append_many([NewEvent("filler") for _ in range(12_345)])  # 5-digit seqs from here
    biggest = 0
    for size in range(700, 1000):
        try:
            journal._writer.spool([journal._writer.encode(NewEvent("edge", {"pad": "x" * size}))])
        except RecordTooLarge:
            continue
        biggest = size
    assert biggest, "some payload near the limit must fit"
    journal.append("merge")  # merges every spooled record, each renumbered and tagged with "src"
    lines = [line for seg in sorted((journal_dir / "segments").iterdir()) for line in seg.read_bytes().splitlines()]
    edges = [line for line in lines if b'"type":"edge"' in line]
    assert edges and all(b'"src":' in line for line in edges)
    assert max(map(len, lines)) + 1 <= limit  # + 1: the newline
    assert limit - (max(map(len, edges)) + 1) < 100
    assert journal.verify().ok


def test_the_limit_comes_from_config_in_the_cli(journal_dir: Path) -> None:
    runner = CliRunner()
    env = {"AGENT_JOURNAL_MAX_RECORD_BYTES": "1024"}
    result = runner.invoke(cli, ["--journal", str(journal_dir), "append", "big", "--data",
                                 json.dumps({"pad": "x" * 2000})], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: a big record would be") and result.stderr.count("\n") == 1
    assert Journal.open(journal_dir).last_seq() == 0


# -- invalid events ------------------------------------------------------------------------------


@pytest.mark.parametrize("type_,data,match", [
    ("", {}, "invalid event type"),
    ("has space", {}, "invalid event type"),
    ("tab\there", {}, "invalid event type"),
    ("x" * 129, {}, "invalid event type"),
    ("ok", [1, 2], "must be a JSON object, got list"),
    ("ok", {"f": float("nan")}, "not JSON-encodable"),
    ("ok", {"f": object()}, "not JSON-encodable"),
    ("ok", b"not json", "not a UTF-8 JSON object"),
    ("ok", b'{"a": "\xff"}', "not a UTF-8 JSON object"),
    ("ok", b"[1]", "must be a JSON object, got list"),
    ("ok", b'{"a": NaN}', "not a UTF-8 JSON object"),
    ("ok", b'{"a": 1e999}', "not JSON-encodable"),
])
def test_invalid_events_are_refused_before_anything_is_written(journal: Journal, type_: str, data: Any,
                                                               match: str) -> None:
    with pytest.raises(InvalidEvent, match=match):
        journal.append(type_, data)
    assert journal.last_seq() == 0
    assert journal.verify().ok


@pytest.mark.parametrize("fields,match", [
    ({"ts": '2026-11-25T12:00:00"'}, "invalid timestamp"),
    ({"ts": "2026-11-25T12:00:00\\"}, "invalid timestamp"),
    ({"ts": "2026-11-25T12:00:00é"}, "invalid timestamp"),
    ({"ts": 1764072000}, "invalid timestamp"),
    ({"session": 5}, "session id must be a string, got int"),
    ({"agent": ["a"]}, "agent id must be a string, got list"),
])
def test_invalid_envelope_fields_are_refused(journal: Journal, fields: dict[str, Any], match: str) -> None:
    """Regression: these were framed with a valid CRC into records no reader could decode."""
    with pytest.raises(InvalidEvent, match=match):
        journal.append("ok", {}, **fields)
    assert journal.last_seq() == 0
    assert journal.verify().ok


def test_a_caller_supplied_timestamp_is_kept(journal: Journal) -> None:
    journal.append("ok", {}, ts="2026-11-25T12:00:00.000000Z")
    assert [e.ts for e in journal.read(mode="strict")] == ["2026-11-25T12:00:00.000000Z"]


def test_preencoded_payloads_round_trip(journal: Journal) -> None:
    journal.append("raw", b' {"a": [1, "\\u00e9", {"b": null}], "c": "\\ud83d\\ude00"} ')
    journal.append("lone-surrogate", b'{"s": "\\ud800"}')  # no UTF-8 form: stored as U+FFFD
    events = list(journal.read(mode="strict"))
    assert events[0].payload() == {"a": [1, "é", {"b": None}], "c": "😀"}
    assert events[1].payload() == {"s": "\ufffd"}
