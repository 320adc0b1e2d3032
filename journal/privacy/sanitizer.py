"""The one sanitiser at the journal boundary: every event is redacted and size-limited
before `journal.storage.writer.Writer` frames it, whoever appends it (hooks, the CLI, library
callers), so no path writes a secret the rules recognise.

What it does to a `NewEvent`:

* ``data`` (a dict, or pre-encoded JSON bytes) goes through `journal.privacy.redaction.sanitize`
  with the journal's ``redaction`` and ``limits`` config; what was done is noted under
  ``data._journal`` (``redacted``: count, ``truncated``: true), as for hook events.
* ``session`` and ``agent`` ids are redacted as text: an id that holds a secret is stored
  as its marker (the same marker the payload's copy gets), and ids that look like ids
  come through unchanged.
* ``type`` and ``ts`` holding a secret are refused (`InvalidEvent`, which does not quote
  them): they are names and times, never free text.

It fails closed. If redaction cannot run (the privacy modules fail to import, the config's
rules are broken or unsafe, a user pattern runs over its time budget, a bug), the event is
still recorded, with its payload withheld: only `KEEP_KEYS` fields and ids that pass the
built-in rules, or that look like plain ids when even those cannot run, survive, plus
``data._journal.withheld`` saying why. The writer reports the failure once in
``errors.log``. Stdlib only: the hook imports it.
"""

from __future__ import annotations


from journal.errors import InvalidEvent
from journal.privacy.limits import KEEP_KEYS
from journal.cjson import loads
from journal.new_event import NewEvent, sanitized

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from journal.privacy.redaction import Redactor

__all__ = ["Sanitizer", "RedactionUnavailable", "withhold", "plain_id"]


class RedactionUnavailable(Exception):
    """Redaction cannot run (broken config, failed import, a time budget overrun)."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_data(raw: bytes) -> Any:
    """Pre-encoded payload bytes as a value; `InvalidEvent` if they are not UTF-8 JSON."""
    try:
        return loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidEvent(f"event data is not a UTF-8 JSON object: {e}") from e
    except RecursionError as e:
        raise InvalidEvent("event data is nested too deeply to parse") from e


_NOTHING: frozenset[str] = frozenset()


class Sanitizer:
    """Redacts and limits events with one journal's rules (built once, reused)."""

    __slots__ = ("redactor", "_sanitize")

    def __init__(self, redactor: Redactor) -> None:
        from journal.privacy.redaction import sanitize_plain  # imported already: *redactor* is one of its

        self.redactor = redactor
        self._sanitize = sanitize_plain

    @classmethod
    def from_config(cls, extra: Mapping[str, Any] | None) -> Sanitizer:
        """The sanitiser of a journal whose config sections (other than the engine's) are *extra*.

        Raise `RedactionUnavailable` naming the problem if the rules cannot be used.
        """
        try:
            from journal.privacy.redaction import Redactor

            return cls(Redactor.from_config(dict(extra or {})))
        except ValueError as e:
            raise RedactionUnavailable(f"config.json: {e}") from e
        except Exception as e:  # an ImportError, a bug: never fall back to no redaction
            raise RedactionUnavailable(f"redaction cannot run: {type(e).__name__}: {e}") from e

    def text(self, value: str) -> str:
        """*value* with every secret replaced by its marker."""
        return self.redactor.redact_text(value)[0]

    def ident(self, value: Any) -> Any:
        """A session or agent id, redacted if it holds a secret (other types pass, for the codec to refuse)."""
        return self.text(value) if isinstance(value, str) else value

    def data(self, data: Any) -> tuple[Any, dict[str, Any]]:
        """Redacted and limited ``data`` and the report (``redacted``/``truncated``, only if non-zero)."""
        if not isinstance(data, dict):
            return data, {}  # None is an empty payload; anything else the codec refuses
        cleaned, report, _ = self._sanitize(data, self.redactor)
        if not (report["redacted"] or report["truncated"]):
            return cleaned, {}  # the usual case
        return cleaned, {k: v for k, v in report.items() if v}

    def event(self, event: NewEvent) -> NewEvent:
        """A sanitised copy of *event*, marked so that the writer does not sanitise it again.

        Raise `InvalidEvent` for a type or timestamp that holds a secret (nothing is
        written), `RedactionUnavailable` when a rule cannot run.
        """
        try:
            data = parse_data(event.data) if isinstance(event.data, bytes) else event.data
            # (`text`, `ident` and `data` inlined: this runs for every event a writer appends)
            redactor = self.redactor
            redact_text = redactor.redact_text
            # Strings the redactor remembers as clean come back from `redact_text` as they are.
            clean = redactor._clean if redactor._fast else _NOTHING
            type_, ts, session, agent = event.type, event.ts, event.session, event.agent
            if isinstance(type_, str) and type_ not in clean and redact_text(type_)[0] != type_:
                raise InvalidEvent("the event type holds what looks like a secret; refusing to record it")
            if isinstance(ts, str) and redact_text(ts)[0] != ts:
                raise InvalidEvent("the event timestamp holds what looks like a secret; refusing to record it")
            encoded = None
            if isinstance(data, dict):
                cleaned, report, encoded = self._sanitize(data, self.redactor)
                if report["redacted"] or report["truncated"]:
                    cleaned = annotate(cleaned, {k: v for k, v in report.items() if v})
            else:
                cleaned = data  # None is an empty payload; anything else the codec refuses
            if isinstance(session, str) and session not in clean:
                session = redact_text(session)[0]
            if isinstance(agent, str) and agent not in clean:
                agent = redact_text(agent)[0]
            out = NewEvent(type_, cleaned, session, agent, ts)
            out._encoded = encoded
        except (InvalidEvent, RedactionUnavailable):
            raise
        except Exception as e:  # a bug in a rule: withhold rather than leak
            raise RedactionUnavailable(f"redaction failed: {type(e).__name__}: {e}") from e
        return sanitized(out)


def annotate(data: dict[str, Any], notes: Mapping[str, Any]) -> dict[str, Any]:
    """*data* with *notes* merged into its ``_journal`` annotations."""
    mine = data.get("_journal")
    if mine is not None and not isinstance(mine, dict):
        data = {k: v for k, v in data.items() if k != "_journal"}
        data["_journal_original"] = mine
        mine = None
    return {**data, "_journal": {**(mine or {}), **notes}}


def plain_id(value: str) -> bool:
    """True for an id that cannot be a credential: a UUID, hex, a name without digits.

    The test of last resort, for when not even the built-in rules can run: a letter
    prefix (``a``, ``s-``, ``toolu_``) then only hex digits and dashes, or letters and
    separators only (``PreToolUse``, ``Bash``, ``s-hostile``).
    """
    if not 0 < len(value) <= 128 or not value.isascii():
        return False
    if value.replace("_", "").replace("-", "").replace(".", "").isalpha():
        return True  # a name: no digits, so no token
    i = 0
    while i < len(value) and i < 8 and value[i].isalpha():
        i += 1
    rest = value[i:].lstrip("_-")
    return bool(rest) and all(c in "0123456789abcdefABCDEF-_" for c in rest)


def withhold(
    event: NewEvent,
    why: str,
    keep: tuple[str, ...] = KEEP_KEYS,
    sanitizer: Sanitizer | None = None,
) -> NewEvent:
    """*event* with its payload withheld: only the string fields in *keep* and the ids
    remain, and only if the built-in rules (or, failing those, `plain_id`) pass them."""
    check = _id_check(sanitizer)
    why = _safe_reason(why)
    payload = event.data if isinstance(event.data, dict) else {}
    if isinstance(event.data, bytes):
        try:
            value = parse_data(event.data)
            payload = value if isinstance(value, dict) else {}
        except InvalidEvent:
            payload = {}
    data: dict[str, Any] = {}
    for key in keep:
        value = payload.get(key)
        if isinstance(value, str) and check(value):
            data[key] = value
    data["_journal"] = {"withheld": f"payload not recorded: {why}"}
    session = event.session if isinstance(event.session, str) and check(event.session) else None
    agent = event.agent if isinstance(event.agent, str) and check(event.agent) else None
    return sanitized(NewEvent(event.type, data, session, agent, event.ts))


def _id_check(sanitizer: Sanitizer | None) -> Any:
    """A test that a string is safe to keep: the built-in rules find nothing in it."""
    try:
        if sanitizer is None:
            from journal.privacy.redaction import Redactor

            sanitizer = Sanitizer(Redactor())
        rules = sanitizer
        rules.text("probe")
    except Exception:
        return plain_id

    def check(value: str) -> bool:
        try:
            return rules.text(value) == value
        except Exception:
            return plain_id(value)

    return check


def _safe_reason(why: str) -> str:
    """*why* redacted: it quotes an exception, and that may quote the payload."""
    try:
        from journal.privacy.redaction import Redactor

        return Redactor().redact_text(why)[0]
    except Exception:
        return why if plain_id(why) else why.split(":", 1)[0] + ": (details withheld)"
