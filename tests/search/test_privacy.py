"""Privacy: the search index holds only what the journal holds, after redaction.

Every secret of the privacy corpus goes into a journal through the real hook path
(as a prompt, a Bash command, a tool error, an assistant reply, an agent's prompt),
the index is built, and then no query finds it and no byte of the index file holds it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hooks import record
from journal import Journal
from projections.search.query import search
from projections.search.index import ensure_index, index_path
from tests.privacy.corpus import SECRETS

SID = "5ec2e75e-0000-4000-8000-00000000005e"


def _payloads(text: str) -> list[dict[str, object]]:
    base = {"session_id": SID, "cwd": "/home/dev/src/shop"}
    return [
        {**base, "hook_event_name": "UserPromptSubmit", "prompt": f"please use {text} for the deploy"},
        {**base, "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": "t1",
         "tool_input": {"command": f"deploy --with '{text}'"}},
        {**base, "hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "tool_use_id": "t1",
         "tool_input": {"command": "deploy"}, "error": f"auth failed for {text}"},
        {**base, "hook_event_name": "Stop", "last_assistant_message": f"I used {text} as asked."},
        {**base, "hook_event_name": "PreToolUse", "tool_name": "Agent", "tool_use_id": "t2",
         "tool_input": {"description": "deploy", "prompt": f"deploy with {text}"}},
    ]


def _record(root: Path, payload: dict[str, object]) -> None:
    hook_input = record.read_input(io.BytesIO(json.dumps(payload).encode()))
    config = record.load_config(root)
    record.append_event(root, record.build_event(hook_input, config), config)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Journal:
    root = tmp_path_factory.mktemp("privacy") / "journal"
    journal = Journal.open(root, durability="flush")
    for case in SECRETS:
        for payload in _payloads(case.text):
            _record(root, payload)
    ensure_index(journal)
    return journal


def test_the_corpus_went_in(indexed: Journal) -> None:
    assert indexed.last_seq() == 5 * len(SECRETS) and len(SECRETS) >= 40
    assert len(search(indexed, "deploy", limit=1000)["hits"]) >= len(SECRETS)
    assert search(indexed, "REDACTED")["hits"], "the markers are indexed, so a redaction is findable as such"


@pytest.mark.parametrize("secret", sorted({s for case in SECRETS for s, _ in case.secrets}), ids=lambda s: s[:12])
def test_no_secret_is_findable(indexed: Journal, secret: str) -> None:
    assert search(indexed, '"' + secret.replace('"', '""') + '"')["hits"] == []
    data = index_path(indexed.root).read_bytes()
    for line in secret.splitlines():
        if len(line.strip()) >= 8:
            assert line.strip().encode() not in data, f"{secret[:12]}… is in the index file"
