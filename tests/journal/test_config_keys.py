"""config.json is validated key by key: unknown keys and sections and wrong types are errors
that name the key and the nearest known one; reading commands warn and use the defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from journal import ConfigError, Journal, load_config


def _write(root: Path, doc: Any) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("doc,message", [
    ({"durabilty": "flush"}, '"durabilty": did you mean "durability"?'),
    ({"segment_byte": 8192}, '"segment_byte": did you mean "segment_bytes"?'),
    ({"redactoin": {"patterns": [{"name": "acme", "regex": "acme_[0-9]{8}"}]}}, '"redactoin": did you mean "redaction"?'),
    ({"redaction": {"paterns": []}}, '"redaction.paterns": did you mean "redaction.patterns"?'),
    ({"retention": {"older_then": "3d"}}, '"retention.older_then": did you mean "retention.older_than"?'),
    ({"colour": "blue"}, '"colour" is not a setting (known: durability, segment_bytes'),
    ({"context": {"max_chars": "lots"}}, '"context.max_chars" must be an integer, got "lots"'),
    ({"context": {"max_chars": 12.5}}, '"context.max_chars" must be an integer, got 12.5'),
    ({"retention": {"auto": "yes"}}, '"retention.auto" must be true or false, got "yes"'),
    ({"limits": {"max_string": True}}, '"limits.max_string" must be an integer, got true'),
    ({"redaction": {"allow": "sk-one"}}, '"redaction.allow" must be a list, got "sk-one"'),
    ({"projections": 5}, '"projections" must be an object, got 5'),
    ({"redaction": []}, '"redaction" must be an object, got []'),
    ({"context": {"write_dir": "/home/me/notes"}}, '"context.write_dir" must be relative to the project directory'),
    ({"context": {"write_dir": "~/notes"}}, '"context.write_dir" must be relative to the project directory'),
    ({"context": {"write_dir": "../elsewhere"}}, '"context.write_dir" must not leave the project directory'),
    ({"context": {"write_dir": "a/../../b"}}, '"context.write_dir" must not leave the project directory'),
    ({"context": {"write_dir": ""}}, '"context.write_dir" must name a directory inside the project'),
    ({"context": {"write_dir": 3}}, '"context.write_dir" must be a string, got 3'),
])
def test_unknown_keys_and_wrong_types_name_the_key(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    _write(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, {})
    assert str(info.value).startswith(f"{tmp_path / 'config.json'}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    _write(tmp_path, {"durabilty": "flush", "context": {"max_char": 10}})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, {})
    assert '"durabilty": did you mean "durability"?' in str(info.value)
    assert '"context.max_char": did you mean "context.max_chars"?' in str(info.value)


def test_every_documented_key_is_accepted(tmp_path: Path) -> None:
    doc = {
        "durability": "flush", "segment_bytes": 8192, "max_record_bytes": 4096, "lock_timeout": 2.5,
        "redaction": {"patterns": [{"name": "acme", "regex": "acme_[0-9]{8}"}], "allow": ["x"], "salt": "s"},
        "limits": {"max_string": 20000, "max_event": 300000},
        "context": {"max_chars": 8000, "write_dir": ".claude/memory"},
        "projections": {"stale_after": 600},
        "retention": {"older_than": "30d", "max_bytes": None, "auto": False, "every": "2d", "archive": True},
    }
    _write(tmp_path, doc)
    config = load_config(tmp_path, {})
    assert config.durability == "flush" and config.extra["context"] == {"max_chars": 8000, "write_dir": ".claude/memory"}


# -- the CLI: reading commands go on with the defaults, writing commands stop ------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = tmp_path / "journal"
    journal = Journal.open(root)
    journal.append("SessionStart", {"source": "startup"}, session="s1")
    journal.append("UserPromptSubmit", {"prompt": "fix the tests"}, session="s1")
    _write(root, {"durabilty": "flush"})
    return root


@pytest.mark.parametrize("args", [
    ["verify"], ["log"], ["stats"], ["sessions"], ["show", "s1"], ["timeline", "s1"], ["context"], ["agents"],
    ["verify", "--json"],
])
def test_reading_commands_warn_once_and_use_the_defaults(broken: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--journal", str(broken), *args])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f'warning: {broken / "config.json"}: "durabilty": did you mean "durability"? (using the defaults)']
    assert "Traceback" not in result.output


def test_writing_commands_stop_and_name_the_key(broken: Path) -> None:
    result = CliRunner().invoke(cli, ["--journal", str(broken), "append", "note", "--data", '{"text": "x"}'])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith('"durabilty": did you mean "durability"?')
    journal = Journal.open(broken, create=False)
    assert journal.config_problem is not None and journal.last_seq() == 2
    with pytest.raises(ConfigError, match="durabilty"):
        journal.append("note")
    assert journal.last_seq() == 2
