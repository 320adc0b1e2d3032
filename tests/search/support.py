"""Three small sessions of one project, written through the real journal, for the search tests."""

from __future__ import annotations

from typing import Any

from journal import Journal

__all__ = ["S1", "S2", "S3", "AGENT", "PROJECT", "write_sessions", "hits_of", "sessions_of"]

S1 = "11111111-aaaa-4aaa-8aaa-000000000001"
S2 = "22222222-bbbb-4bbb-8bbb-000000000002"
S3 = "33333333-cccc-4ccc-8ccc-000000000003"
AGENT = "a7e57a6e17c0ffee1"
PROJECT = "/home/dev/src/shop"


def _start(sid: str) -> tuple[str, dict[str, Any], str | None]:
    return "SessionStart", {"session_id": sid, "source": "startup", "cwd": PROJECT,
                            "_journal": {"project_dir": PROJECT, "git_branch": "main"}}, None


def _tool(name: str, sid: str, tool: str, **inp: Any) -> tuple[str, dict[str, Any], str | None]:
    return name, {"session_id": sid, "tool_name": tool, "tool_use_id": f"toolu_{tool}_{len(inp)}",
                  "tool_input": inp}, None


def _script(sid: str) -> list[tuple[str, dict[str, Any], str | None]]:
    if sid == S1:
        return [
            _start(S1),
            ("UserPromptSubmit", {"prompt": "build the invoice export for the accounting team"}, None),
            _tool("PreToolUse", S1, "Write", file_path=f"{PROJECT}/src/shop/invoices.py", content="x = 1\n"),
            _tool("PreToolUse", S1, "Bash", command="pytest -q tests/test_invoices.py"),
            ("PostToolUseFailure", {"tool_name": "Bash", "tool_input": {"command": "pytest -q tests/test_invoices.py"},
                                    "error": "ModuleNotFoundError: No module named 'ledgerlib'"}, None),
            _tool("PreToolUse", S1, "Bash", command="pytest -q tests/test_invoices.py"),
            _tool("PreToolUse", S1, "Agent", description="auditor review", prompt="check every total",
                  subagent_type="general-purpose"),
            ("SubagentStop", {"agent_id": AGENT, "agent_type": "general-purpose",
                              "last_assistant_message": "found two discrepancies in the totals"}, AGENT),
            ("Stop", {"last_assistant_message": "The ledger export works now.",
                      "_journal": {"digest": {"working_on": "the export", "decisions": ["use banker's rounding"],
                                              "topics": ["accounting"]}}}, None),
            ("journal.checkpoint", {"objective": "ship the quarterly invoice export", "done": ["schema"],
                                    "next": ["write the csv writer"]}, None),
            ("PreCompact", {"trigger": "auto", "_journal": {"capture": {"last_prompts": ["reconcile the ledger"]}}},
             None),
            ("UserPromptSubmit", {"prompt": "<task-notification><task-id>b1</task-id><status>completed</status>"
                                            "<summary>backgroundjob done</summary></task-notification>"}, None),
            ("UserPromptSubmit", {"prompt": "/frobnicate now"}, None),
            ("UserPromptSubmit", {"prompt": "<system-reminder>hookinjected text</system-reminder>"}, None),
            ("SessionEnd", {"reason": "prompt_input_exit"}, None),
        ]
    if sid == S2:
        return [
            _start(S2),
            ("UserPromptSubmit", {"prompt": "fix the checkout cart totals"}, None),
            _tool("PreToolUse", S2, "Edit", file_path=f"{PROJECT}/cart/api.py", old_string="a", new_string="b"),
            _tool("PostToolUse", S2, "Edit", file_path=f"{PROJECT}/cart/api.py", old_string="a", new_string="b"),
            ("Stop", {"last_assistant_message": "Checkout fixed."}, None),
            ("SessionEnd", {"reason": "prompt_input_exit"}, None),
        ]
    return [
        _start(S3),
        ("UserPromptSubmit", {"prompt": "refactor the cart module"}, None),
        _tool("PreToolUse", S3, "Edit", file_path=f"{PROJECT}/cart/api.py", old_string="b", new_string="c"),
        _tool("PostToolUse", S3, "Edit", file_path=f"{PROJECT}/cart/api.py", old_string="b", new_string="c"),
    ]


def write_sessions(journal: Journal, only: tuple[str, ...] = (S1, S2, S3)) -> None:
    """S1 (an invoice export, with every kind of document), S2 (checkout), S3 (cart, still open)."""
    minute = 0
    for sid in only:
        for type_, data, agent in _script(sid):
            minute += 1
            data = {"session_id": sid, "hook_event_name": type_, **data} if not type_.startswith("journal.") else data
            journal.append(type_, data, session=sid, agent=agent, ts=f"2025-11-25T12:{minute:02d}:00.000000Z")


def hits_of(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The comparable part of each hit: session, kind, seq, snippet."""
    return [(h["session"], h["kind"], h["seq"], h["snippet"]) for h in result["hits"]]


def sessions_of(result: dict[str, Any]) -> list[str]:
    """The sessions of the hits, in order of first appearance."""
    return list(dict.fromkeys(h["session"] for h in result["hits"]))
