"""The event to append (`NewEvent`), as hooks, the CLI and library callers build it.

Every append goes through the sanitiser (`journal.privacy.sanitizer`) before the
writer (`journal.storage.writer`) frames it; `sanitized` marks an event that already
went through it, so it is not redacted twice. Stdlib only: the hook builds these.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing or dataclasses at run time: this is the hook's hot path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NewEvent", "sanitized"]


class NewEvent:
    """An event to append: its type, payload object, and optional session and agent ids."""

    __slots__ = ("type", "data", "session", "agent", "ts", "_sanitized", "_encoded")

    def __init__(
        self,
        type: str,
        data: Any = None,
        session: str | None = None,
        agent: str | None = None,
        ts: str | None = None,
    ) -> None:
        self.type = type
        self.data = data
        self.session = session
        self.agent = agent
        self.ts = ts
        #: Set by `sanitized` only: the data and ids already went through the sanitiser
        #: (`journal.privacy.sanitizer`), so the writer does not redact them a second time.
        self._sanitized = False
        #: Set by the sanitiser only, with `_sanitized`: ``data`` encoded as the writer
        #: would (`journal.privacy.redaction.sanitize_plain`), else None.
        self._encoded: bytes | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewEvent) and all(
            getattr(self, name) == getattr(other, name) for name in _EVENT_FIELDS
        )

    __hash__ = None  # type: ignore[assignment]  # data is usually a dict

    def __repr__(self) -> str:
        return "NewEvent(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in _EVENT_FIELDS) + ")"


_EVENT_FIELDS = ("type", "data", "session", "agent", "ts")


def sanitized(event: NewEvent) -> NewEvent:
    """Mark *event* as already sanitised (by `journal.privacy.sanitizer`) and return it.

    Only for code that ran the journal's own sanitiser on exactly this data (the hook
    does, to report what it redacted); anything else is sanitised by `Writer.encode`.
    """
    event._sanitized = True
    return event
