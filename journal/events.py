"""The event model as readers see it: a frozen msgspec envelope around a raw payload.

The payload stays `msgspec.Raw` (the exact bytes written) so unknown event types and
unknown payload fields survive any round trip; consumers decode only what they need,
with `Event.payload` or their own small typed view Structs.

Schema evolution follows msgspec's rules: new envelope fields get defaults, types
never change, and records carry ``v``; `upcast` maps older versions forward on read.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.codec import SCHEMA_VERSION

__all__ = ["Event", "EVENT_DECODER", "upcast", "decode_payload"]

_EMPTY = msgspec.Raw(b"{}")


class Event(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One journal record: position, time, type, who, and the payload bytes."""

    seq: int
    ts: str
    type: str
    data: msgspec.Raw = _EMPTY
    session: str | None = None
    agent: str | None = None
    v: int = SCHEMA_VERSION
    #: The spool file a merged record came from (written while the lock was busy).
    src: str | None = None
    crc: str = ""

    def payload(self) -> dict[str, Any]:
        """The payload decoded to a dict (unknown fields included)."""
        return decode_payload(self.data)

    def to_dict(self) -> dict[str, Any]:
        """The whole record as plain JSON-ready data (for ``--json`` output)."""
        out: dict[str, Any] = {"seq": self.seq, "ts": self.ts, "type": self.type}
        if self.session is not None:
            out["session"] = self.session
        if self.agent is not None:
            out["agent"] = self.agent
        out["v"] = self.v
        out["data"] = self.payload()
        return out


EVENT_DECODER = msgspec.json.Decoder(Event)
_PAYLOAD_DECODER = msgspec.json.Decoder(dict[str, Any])


def decode_payload(raw: msgspec.Raw | bytes) -> dict[str, Any]:
    """Decode a payload to a dict; a payload that is not an object comes back wrapped."""
    try:
        return _PAYLOAD_DECODER.decode(raw)
    except msgspec.ValidationError:
        return {"value": msgspec.json.decode(raw)}


def upcast(event: Event) -> Event:
    """Bring an event of an older schema version to the current one (v1 is current)."""
    return event
