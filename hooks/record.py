"""One hook firing -> one journal event (or an ``journal.invalid_input`` event).

The payload is kept as Claude Code sent it (unknown fields and unknown event names
included), minus secrets and oversized strings, plus Agent Journal's annotations
under ``data._journal`` (see docs/EVENTS.md). Stdlib only: this runs twice per tool
call and must not import msgspec, click or portalocker, nor `json`, `re` or `pathlib`
(tests/hooks/test_import_budget.py): the journal directory is a string here.
"""

from __future__ import annotations

import os

from journal.cjson import loads
from journal.storage.codec import valid_type
from journal.config import JournalConfig, load_config
from journal.errors import ConfigError, InvalidEvent, JournalError, RecordTooLarge
from journal.errorlog import log_error
from journal.layout import ensure_journal_dir
from journal.location import journal_dir
from journal.storage.writer import NewEvent, Writer, sanitized

TYPE_CHECKING = False  # no typing or dataclasses at run time: this is the hook's hot path
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Mapping

    from journal.layout import P

__all__ = ["HookInput", "NewEvent", "read_input", "journal_dir_for", "project_dir_for", "build_event", "append_event",
           "MAX_STDIN"]

#: Payloads larger than this are not parsed (the hook records their size and head).
MAX_STDIN = 32 * 1024 * 1024
#: Seconds a hook waits for the journal lock before spooling its event.
HOOK_LOCK_TIMEOUT = 1.0
_ID_MAX = 256


class HookInput:
    """A parsed hook payload, or why it could not be parsed."""

    __slots__ = ("raw_size", "payload", "problem", "head", "annotations", "salvaged")

    def __init__(self, raw_size: int, payload: dict[str, Any] | None, problem: str | None = None,
                 head: str = "", salvaged: dict[str, str] | None = None) -> None:
        self.raw_size = raw_size
        self.payload = payload
        self.problem = problem
        self.head = head
        #: Agent Journal's own notes about this firing, stored under ``data._journal``.
        self.annotations: dict[str, Any] = {}
        #: For a payload that could not be parsed (too big, nested too deep): the ids and
        #: the event name read from its head (`salvage_ids`).
        self.salvaged: dict[str, str] = salvaged or {}

    def _fields(self) -> Mapping[str, Any]:
        return self.payload if self.payload is not None else self.salvaged

    @property
    def event_name(self) -> str | None:
        name = self._fields().get("hook_event_name")
        # "journal.*" types are Agent Journal's own (docs/EVENTS.md): a payload must not mint them.
        return name if isinstance(name, str) and valid_type(name) and not name.startswith("journal.") else None

    def ident(self, key: str) -> str | None:
        value = self._fields().get(key)
        return value if isinstance(value, str) and 0 < len(value) <= _ID_MAX else None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (Python's json accepts them); the journal could not store them.
    raise ValueError(f"{name} is not a JSON value")


_INFINITIES = (float("inf"), float("-inf"))


def _finite_float(text: str) -> float:
    value = float(text)
    if value in _INFINITIES:  # e.g. 1e400: valid JSON syntax, but no finite double holds it
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def read_input(stream: BinaryIO) -> HookInput:
    """Read and parse stdin; never raises on bad input (it is recorded instead)."""
    raw = stream.read(MAX_STDIN + 1)
    size = len(raw)
    if size > MAX_STDIN:
        # Drain the rest so Claude Code is never blocked writing to our stdin.
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
        return HookInput(size, None, f"payload of {size:,} bytes is over the {MAX_STDIN:,}-byte limit",
                         raw[:200].decode("utf-8", "replace"), salvage_ids(raw))
    head = raw[:200].decode("utf-8", "replace")
    if not raw.strip():
        return HookInput(size, None, "empty input", head)
    try:
        payload = loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        return HookInput(size, None, "JSON nested too deeply", head, salvage_ids(raw))
    except ValueError as e:
        return HookInput(size, None, f"not valid JSON: {e}", head)
    if not isinstance(payload, dict):
        return HookInput(size, None, f"payload is a JSON {type(payload).__name__}, not an object", head)
    hook_input = HookInput(size, payload, head=head)
    if hook_input.event_name is None:
        hook_input.problem = "payload has no valid hook_event_name"
    return hook_input


#: How much of an unparsable payload `salvage_ids` reads: Claude Code writes the ids and
#: the event name before the (possibly huge) tool input and response.
_SALVAGE_HEAD = 64 * 1024
_SALVAGED = ("session_id", "hook_event_name", "agent_id", "agent_type", "tool_name", "tool_use_id")
_salvage_re: Any = None


def salvage_ids(raw: bytes) -> dict[str, str]:
    """The ids and event name of a payload too big or too deep to parse, read from its head.

    The first ``"key": "string"`` of each of `_SALVAGED` in the first 64 KB (top-level keys
    come first in Claude Code's payloads); values that are not short plain strings are skipped.
    """
    global _salvage_re
    if _salvage_re is None:
        import re

        keys = "|".join(_SALVAGED)
        _salvage_re = re.compile(rb'"(' + keys.encode() + rb')"[ \t\r\n]*:[ \t\r\n]*("(?:[^"\\\r\n]|\\.){1,256}+")')
    out: dict[str, str] = {}
    for m in _salvage_re.finditer(raw[:_SALVAGE_HEAD]):
        key = m.group(1).decode("ascii")
        if key in out:
            continue
        try:
            value = loads(m.group(2))
        except ValueError:
            continue
        if isinstance(value, str):
            out[key] = value
    return out


def project_dir_for(payload: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The project the hook fired in: $CLAUDE_PROJECT_DIR, else the git top level of the
    payload's cwd (None when neither is known)."""
    env = os.environ if environ is None else environ
    project = env.get("CLAUDE_PROJECT_DIR")
    cwd = (payload or {}).get("cwd")
    if not project and isinstance(cwd, str) and os.path.isabs(cwd) and os.path.isdir(cwd):
        from journal.location import project_root

        project = project_root(cwd)
    return project or None


def journal_dir_for(payload: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> str:
    """The journal of the project the hook fired in (`project_dir_for`), as a string."""
    env = os.environ if environ is None else environ
    return journal_dir(project_dir=project_dir_for(payload, env), environ=env)


class RedactionUnavailable(Exception):
    """The payload cannot be made safe (redaction rules broken or unusable): withhold it."""


def sanitizer_for(config: JournalConfig) -> Any:
    """The journal's `journal.privacy.sanitizer.Sanitizer`; `ConfigError` for broken rules in config.json,
    `RedactionUnavailable` if redaction cannot run at all. Never a fallback without redaction."""
    try:
        from journal.privacy.sanitizer import RedactionUnavailable as Unavailable
        from journal.privacy.sanitizer import Sanitizer
    except Exception as e:
        raise RedactionUnavailable(f"redaction cannot run: {type(e).__name__}: {e}") from e
    try:
        return Sanitizer.from_config(config.extra)
    except Unavailable as e:
        if str(e).startswith("config.json:"):
            raise ConfigError(str(e)) from e
        raise RedactionUnavailable(str(e)) from e


def build_event(hook_input: HookInput, config: JournalConfig, sanitizer: Any = None) -> NewEvent:
    """The event to append for *hook_input*: the payload, sanitised and annotated.

    The event is marked as sanitised, so the writer does not redact it again. Raise
    `ConfigError` or `RedactionUnavailable` when it cannot be made safe (see `withheld_event`).
    *sanitizer* is `sanitizer_for(config)` when the caller already made it.
    """
    if sanitizer is None:
        sanitizer = sanitizer_for(config)
    try:
        return _build(hook_input, sanitizer)
    except (ConfigError, RedactionUnavailable, InvalidEvent):
        raise
    except Exception as e:  # a bug or a time budget overrun in a rule: withhold, never leak
        raise RedactionUnavailable(f"redaction failed: {type(e).__name__}: {e}") from e


def _build(hook_input: HookInput, sanitizer: Any) -> NewEvent:
    name = hook_input.event_name
    if name is not None and sanitizer.text(name) != name:
        name = None  # a secret where the event name goes: record it as invalid input
    session = sanitizer.ident(hook_input.ident("session_id"))
    agent = sanitizer.ident(hook_input.ident("agent_id"))
    if hook_input.problem is not None or hook_input.payload is None or name is None:
        data: dict[str, Any] = {"reason": hook_input.problem or "payload has no valid hook_event_name",
                                "bytes": hook_input.raw_size, "head": hook_input.head}
        raw_name = hook_input._fields().get("hook_event_name")
        if isinstance(raw_name, str):
            data["hook_event_name"] = raw_name[:200]
        data, _ = sanitizer.data(data)
        return sanitized(NewEvent("journal.invalid_input", data, session=session, agent=agent))
    data = dict(hook_input.payload)
    if "_journal" in data:
        data["_journal_original"] = data.pop("_journal")  # ours is reserved; keep theirs beside it
    if hook_input.annotations:
        # Annotations are redacted too: a transcript digest quotes prompts and replies.
        data["_journal"] = dict(hook_input.annotations)
    data, report = sanitizer.data(data)
    if report:
        data["_journal"] = {**(data.get("_journal") or {}), **report}
    return sanitized(NewEvent(name, data, session=session, agent=agent))


#: Payload fields that never hold user content: kept when the payload itself must be withheld.
SAFE_FIELDS = ("session_id", "hook_event_name", "agent_id", "agent_type", "tool_name", "tool_use_id",
               "source", "reason", "trigger", "permission_mode", "transcript_path", "cwd")


def withheld_event(hook_input: HookInput, why: str) -> NewEvent:
    """The event when the payload cannot be made safe (e.g. the redaction config is broken).

    Privacy wins over completeness: only fields that never carry user content are kept,
    and only if the built-in rules find no secret in them (or, if those cannot run, they
    look like plain ids), so projections still see that the event happened.
    """
    event = NewEvent(hook_input.event_name or "journal.invalid_input", dict(hook_input._fields()),
                     session=hook_input.ident("session_id"), agent=hook_input.ident("agent_id"))
    try:
        from journal.privacy.sanitizer import withhold

        return withhold(event, why, keep=SAFE_FIELDS)
    except Exception:
        return sanitized(NewEvent(event.type, {"_journal": {"withheld": f"payload not recorded: {why}"}}))


def append_event(root: P, event: NewEvent, config: JournalConfig | None = None) -> list[int]:
    """Append *event*, spooling it if the lock is busy for more than a second."""
    config = config or load_config(root)
    writer = Writer(root, config)
    try:
        return writer.append([event], lock_timeout=HOOK_LOCK_TIMEOUT, spool_on_timeout=True)
    except RecordTooLarge as e:
        log_error(root, "record_too_large", str(e), type=event.type)
        stub = NewEvent("journal.invalid_input", {"reason": str(e), "hook_event_name": event.type},
                        session=event.session, agent=event.agent)
        return writer.append([stub], lock_timeout=HOOK_LOCK_TIMEOUT, spool_on_timeout=True)


def open_journal(payload: Mapping[str, Any] | None) -> tuple[str, JournalConfig]:
    """Find, create (0700) and configure the journal for this hook firing."""
    root = journal_dir_for(payload)
    fresh = not os.path.isdir(root)
    ensure_journal_dir(root)
    if fresh:
        register_journal(root)
    return root, load_config(root)


def register_journal(root: str) -> None:
    """Note a newly created journal in the user-level registry (`journal.registry`).

    Only on a project's first event, so other hooks pay one ``stat`` for it. A failure
    (a read-only home) is logged, never raised: recording matters more.
    """
    try:
        from journal.registry import register

        register(root)
    except Exception as e:  # noqa: BLE001 - the event must still be recorded
        log_error(root, "registry_failed", f"cannot add {root} to the journal registry: {type(e).__name__}: {e}")


__all__ += ["open_journal", "register_journal", "withheld_event", "SAFE_FIELDS", "JournalError", "ConfigError",
            "JournalConfig", "RedactionUnavailable", "salvage_ids", "sanitizer_for"]
