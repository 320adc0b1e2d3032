"""A scripted, offline stand-in for the Anthropic Messages API.

Claude Code is pointed at it with ``ANTHROPIC_BASE_URL``. Every request body is logged so a
test can assert on exactly what Claude Code sent (prompts, hook context, tool results), and
every model call is answered from a *script*: a list of :class:`Rule` objects, each keyed on a
marker substring of the conversation's first user message (or of its latest prompt, for
resumed and compacted sessions). Compaction requests get a fixed summary. Standard library
only, so the harness runs wherever the project's tests run.

Example::

    script = [
        Rule("MAKE-GREETING", [
            [write("/tmp/p/greet.py", "print('hi')\\n")],
            [bash("python3 greet.py")],
            [text("All done.")],
        ]),
    ]
    with FakeMessagesAPI(script) as api:
        run_claude(..., port=api.port, prompt="MAKE-GREETING please")
        assert api.requests_containing("MAKE-GREETING")
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_SUMMARY",
    "DONE_TEXT",
    "SUMMARY_MARKER",
    "Block",
    "FakeMessagesAPI",
    "RecordedRequest",
    "Rule",
    "TextBlock",
    "ToolUseBlock",
    "agent",
    "bash",
    "first_user_text",
    "is_compaction_request",
    "message_text",
    "request_text",
    "text",
    "tool_use",
    "write",
]

#: The model name echoed back; Claude Code does not check it against what it asked for.
MODEL = "claude-fake-e2e"

#: Final answer once a conversation's script is exhausted (or nothing matched).
DONE_TEXT = "Done."

#: A token in the default compaction summary; after ``/compact`` it heads the first user message.
SUMMARY_MARKER = "FAKE-SUMMARY"

#: Answer to a compaction request. Claude Code asks for an <analysis> then a <summary> block,
#: and without them it sends the request a second time.
DEFAULT_SUMMARY = (
    f"<analysis>Nothing to analyse.</analysis>\n<summary>{SUMMARY_MARKER} of the session so far.</summary>"
)


# --------------------------------------------------------------------------- script model


@dataclass(frozen=True)
class TextBlock:
    """An assistant ``text`` content block."""

    text: str


@dataclass(frozen=True)
class ToolUseBlock:
    """An assistant ``tool_use`` block; its id is minted when it is served, so it is unique."""

    name: str
    input: dict[str, Any]


Block = TextBlock | ToolUseBlock


@dataclass(frozen=True)
class Rule:
    """One scripted conversation.

    With ``match="first"`` (the default) a request belongs to this rule when ``marker``
    occurs in the text of its *first* user message (a main session: the prompt, after
    Claude Code's ``<system-reminder>`` blocks; a subagent: the Agent tool's ``prompt``),
    and ``turns[i]`` answers the request that already holds ``i`` assistant messages.

    With ``match="latest"`` the marker is looked for in the *last* user message that
    contains it, and ``i`` counts only the assistant messages after that one. Use it for a
    prompt given to ``--resume`` (the old turns are replayed before it) and after
    compaction (the first user message is then Claude Code's summary, not a prompt).

    Past the end of ``turns`` the fake answers :data:`DONE_TEXT`. When several rules match,
    the first in the script wins.
    """

    marker: str
    turns: Sequence[Sequence[Block]]
    match: Literal["first", "latest"] = "first"

    def step(self, body: Any) -> int | None:
        """Index into ``turns`` for a request body, or ``None`` if the rule does not apply."""
        messages = _messages(body)
        if self.match == "first":
            return _assistant_turns(messages) if self.marker in first_user_text(body) else None
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if isinstance(message, dict) and message.get("role") == "user" and self.marker in _prompt_text(message):
                return _assistant_turns(messages[index + 1 :])
        return None


def text(value: str) -> TextBlock:
    """A text block."""
    return TextBlock(value)


def tool_use(name: str, tool_input: dict[str, Any]) -> ToolUseBlock:
    """A call of any tool by name (``Read``, ``Edit``, MCP tools ...)."""
    return ToolUseBlock(name, dict(tool_input))


def write(file_path: str, content: str) -> ToolUseBlock:
    """A ``Write`` call; Claude Code wants an absolute ``file_path``."""
    return ToolUseBlock("Write", {"file_path": file_path, "content": content})


def bash(command: str, description: str = "run a command", timeout_ms: int | None = None) -> ToolUseBlock:
    """A ``Bash`` call (run in the project directory)."""
    tool_input: dict[str, Any] = {"command": command, "description": description}
    if timeout_ms is not None:
        tool_input["timeout"] = timeout_ms
    return ToolUseBlock("Bash", tool_input)


def agent(
    prompt: str,
    description: str = "delegated task",
    subagent_type: str = "general-purpose",
    run_in_background: bool = False,
) -> ToolUseBlock:
    """An ``Agent`` call that starts a subagent whose first user message is ``prompt``.

    ``run_in_background`` must be given explicitly: when it is omitted Claude Code 2.1.328
    backgrounds the agent, so its PostToolUse and the parent's Stop fire before it runs.
    """
    return ToolUseBlock(
        "Agent",
        {
            "description": description,
            "prompt": prompt,
            "subagent_type": subagent_type,
            "run_in_background": run_in_background,
        },
    )


# --------------------------------------------------------------------------- request text


def _content_text(content: Any) -> list[str]:
    """Text of a message ``content`` (a string or a list of blocks), tool results included."""
    if isinstance(content, str):
        return [content]
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                parts.extend(_content_text(block.get("content")))
    return parts


def message_text(message: Any) -> str:
    """All text of one message, blocks joined by newlines."""
    if not isinstance(message, dict):
        return ""
    return "\n".join(_content_text(message.get("content")))


def _messages(body: Any) -> list[Any]:
    messages = body.get("messages") if isinstance(body, dict) else None
    return messages if isinstance(messages, list) else []


def first_user_text(body: Any) -> str:
    """Text of the first user message of a request body ('' if there is none)."""
    for message in _messages(body):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def request_text(body: Any) -> str:
    """``system`` plus every message's text (tool results included) of a request body.

    Tool *inputs* are left out on purpose: a scripted ``tool_use`` echoes the test's own
    strings back, which would make "did Claude Code send X" assertions pass vacuously.
    """
    if not isinstance(body, dict):
        return ""
    parts = _content_text(body.get("system"))
    parts.extend(message_text(m) for m in _messages(body))
    return "\n".join(parts)


def _prompt_text(message: dict[str, Any]) -> str:
    """Text a user typed or Claude Code added around it: text blocks only, no tool results."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def _assistant_turns(messages: list[Any]) -> int:
    return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")


#: Substrings of the instruction Claude Code appends when it asks the model for a summary.
_COMPACTION_HINTS = ("create a detailed summary of the conversation", "followed by a <summary> block")


def is_compaction_request(body: Any) -> bool:
    """Whether a request is Claude Code asking for a compaction summary.

    Such a request replays the whole conversation, so it would otherwise match the main
    rule at a later step and could be answered with a tool call.
    """
    messages = _messages(body)
    if not messages:
        return False
    last = message_text(messages[-1]).lower()
    return any(hint in last for hint in _COMPACTION_HINTS)


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)

    @property
    def is_model_call(self) -> bool:
        """A ``POST /v1/messages`` (streamed or not), as opposed to token counting etc."""
        return self.method == "POST" and self.path.rstrip("/") == "/v1/messages"

    @property
    def text(self) -> str:
        """See :func:`request_text`."""
        return request_text(self.body)

    @property
    def first_user_text(self) -> str:
        """See :func:`first_user_text`."""
        return first_user_text(self.body)


class FakeMessagesAPI:
    """A threaded HTTP server on ``127.0.0.1`` answering like the Messages API from a script.

    Use as a context manager (or call :meth:`start` / :meth:`stop`). ``port`` and
    ``base_url`` are valid once started. All accessors return snapshots, so they are safe
    to call while Claude Code is still talking to the server.
    """

    def __init__(self, script: Iterable[Rule] = (), *, summary_text: str = DEFAULT_SUMMARY) -> None:
        self._lock = threading.Lock()
        self._script: list[Rule] = list(script)
        self._summary_text = summary_text
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._ids: dict[str, itertools.count[int]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> Self:
        """Bind a free port and serve in a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (a fixture teardown) quick.
        self._thread = threading.Thread(
            target=functools.partial(self._server.serve_forever, poll_interval=0.05),
            name="fake-messages-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("FakeMessagesAPI is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The value for ``ANTHROPIC_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting

    def set_script(self, script: Iterable[Rule]) -> None:
        """Replace the script (e.g. between two ``claude`` runs of one test)."""
        with self._lock:
            self._script = list(script)

    def set_summary(self, summary_text: str) -> None:
        """Replace the answer to compaction requests (keep an ``<analysis>`` and a ``<summary>``)."""
        with self._lock:
            self._summary_text = summary_text

    def add_rule(self, rule: Rule, *, first: bool = False) -> None:
        """Append one rule (earlier rules win when several markers match), or with ``first``
        put it ahead of every other (a ``match="latest"`` rule for a resumed conversation,
        whose first message still matches the rule that started it)."""
        with self._lock:
            if first:
                self._script.insert(0, rule)
            else:
                self._script.append(rule)

    # -- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """Only the ``POST /v1/messages`` requests."""
        return [r for r in self.requests if r.is_model_call]

    @property
    def errors(self) -> list[str]:
        """Exceptions swallowed while answering (a test may assert this is empty)."""
        with self._lock:
            return list(self._errors)

    def requests_containing(self, needle: str) -> list[RecordedRequest]:
        """Model requests whose :func:`request_text` contains ``needle``."""
        return [r for r in self.model_requests if needle in r.text]

    def requests_for(self, marker: str) -> list[RecordedRequest]:
        """Model requests whose first user message contains ``marker`` (one conversation)."""
        return [r for r in self.model_requests if marker in r.first_user_text]

    def all_text(self) -> str:
        """The text of every model request joined together, for quick ``in`` checks."""
        return "\n".join(r.text for r in self.model_requests)

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 30.0, interval: float = 0.05
    ) -> RecordedRequest:
        """Block until a logged request satisfies ``predicate``; raise ``TimeoutError`` if none does."""
        deadline = time.monotonic() + timeout
        while True:
            for request in self.requests:
                if predicate(request):
                    return request
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching request within {timeout}s ({len(self.requests)} logged)")
            time.sleep(interval)

    def clear(self) -> None:
        """Forget logged requests and errors (the script is kept)."""
        with self._lock:
            self._requests.clear()
            self._errors.clear()

    # -- internals used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _next_id(self, prefix: str) -> str:
        # One counter per prefix keeps ids readable in logs: toolu_1, toolu_2, msg_1 ...
        with self._lock:
            counter = self._ids.setdefault(prefix, itertools.count(1))
            return f"{prefix}_{next(counter)}"

    def _answer(self, body: Any) -> list[dict[str, Any]]:
        """Pick the content blocks (wire form) that answer one model request."""
        with self._lock:
            script = list(self._script)
            summary_text = self._summary_text
        if is_compaction_request(body):
            return [{"type": "text", "text": summary_text}]
        blocks: Sequence[Block] = ()
        for rule in script:
            step = rule.step(body)
            if step is not None:
                if step < len(rule.turns):
                    blocks = rule.turns[step]
                break
        if not blocks:
            return [{"type": "text", "text": DONE_TEXT}]
        wire: list[dict[str, Any]] = []
        for block in blocks:
            if isinstance(block, TextBlock):
                wire.append({"type": "text", "text": block.text})
            else:
                wire.append(
                    {"type": "tool_use", "id": self._next_id("toolu"), "name": block.name, "input": block.input}
                )
        return wire


def _usage(output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": 100,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _sse_events(message_id: str, content: list[dict[str, Any]], stop_reason: str) -> bytes:
    """The full event stream of one streamed answer, in the order the real API sends it."""
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _usage(1),
                },
            },
        )
    ]
    for index, block in enumerate(content):
        start: dict[str, Any]
        delta: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": _usage(10),
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


class _Handler(BaseHTTPRequestHandler):
    """Request handler; ``api`` is bound per server by :meth:`FakeMessagesAPI.start`."""

    api: FakeMessagesAPI
    # Keep-alive like the real API; every response carries a Content-Length.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # Silence the per-request stderr lines; the request log is the record.
        pass

    # Every verb goes through one recorded route, so a test sees GETs too.
    def do_GET(self) -> None:
        self._guarded(self._route)

    def do_POST(self) -> None:
        self._guarded(self._route)

    def do_PUT(self) -> None:
        self._guarded(self._route)

    def do_PATCH(self) -> None:
        self._guarded(self._route)

    def do_DELETE(self) -> None:
        self._guarded(self._route)

    def do_HEAD(self) -> None:
        self._guarded(lambda: self._send_bytes(b"", "application/json"))

    def _guarded(self, action: Callable[[], None]) -> None:
        # An exception escaping a handler would kill the connection mid-turn and make Claude
        # Code retry; record it for the test and still answer something well-formed.
        try:
            action()
        except (BrokenPipeError, ConnectionResetError):
            pass  # Claude Code went away (e.g. killed by a test): nothing to answer.
        except Exception as error:  # the server thread must survive anything
            self.api._record_error(f"{self.command} {self.path}: {error!r}")
            with contextlib.suppress(OSError):
                self._send_json({"type": "error", "error": {"type": "api_error", "message": repr(error)}}, status=500)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _route(self) -> None:
        parts = urlsplit(self.path)
        body = self._read_body()
        recorded = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.api._record(recorded)
        route = parts.path.rstrip("/")
        if self.command == "POST" and route == "/v1/messages/count_tokens":
            self._send_json({"input_tokens": 100})
        elif recorded.is_model_call:
            self._send_message(body)
        else:
            self._send_json({})

    def _send_message(self, body: Any) -> None:
        content = self.api._answer(body)
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
        message_id = self.api._next_id("msg")
        if isinstance(body, dict) and body.get("stream"):
            self._send_bytes(_sse_events(message_id, content, stop_reason), "text/event-stream")
            return
        self._send_json(
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": _usage(10),
            }
        )

    def _send_json(self, payload: Any, status: int = 200) -> None:
        self._send_bytes(json.dumps(payload).encode(), "application/json", status)

    def _send_bytes(self, data: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_fake_{id(data)}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
