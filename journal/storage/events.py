"""The event model as readers see it: a frozen msgspec envelope around a raw payload.

The payload stays `msgspec.Raw` (the exact bytes written) so unknown event types and
unknown payload fields survive any round trip; consumers decode only what they need,
with `Event.payload` or their own small typed view Structs. A consumer that reads a
lot may hand the reader a `typed_decoder` of its view Structs, which decodes the
envelope and the payload in one pass into `TypedEvent`s.

Schema evolution follows msgspec's rules: new envelope fields get defaults, types
never change, and records carry ``v``; `upcast` maps older versions forward on read.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Mapping, Union

import msgspec

from journal.storage.codec import SCHEMA_VERSION

__all__ = ["Event", "EVENT_DECODER", "TypedEvent", "typed_decoder", "upcast", "decode_payload"]

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


class TypedEvent(msgspec.Struct, frozen=True, gc=False, tag_field="type"):
    """`Event` with its payload decoded in the same pass: the base of `typed_decoder`'s types.

    Each event type gets a subclass whose ``data`` is that type's payload Struct (or
    `msgspec.Raw`); ``type`` is the tag, read back as a class attribute. Only for
    reading: `Event`'s envelope without ``src`` and ``crc`` (checked on the bytes
    before decoding, never needed after) and without ``payload()``.
    """

    type: ClassVar[str]
    seq: int
    ts: str
    session: str | None = None
    agent: str | None = None
    v: int = SCHEMA_VERSION


def typed_decoder(payloads: Mapping[str, Any]) -> msgspec.json.Decoder[Any]:
    """A decoder of records into `TypedEvent`s, ``data`` decoded as ``payloads[type]``.

    A Struct payload type that is missing from a record decodes as its defaults (like
    the raw ``{}`` `Event` keeps). A record of a type not in *payloads*, or whose payload
    does not fit its type, fails to decode (msgspec has no fallback tag), so a caller
    keeps `EVENT_DECODER` at hand; ``Reader.chunks(decoder=...)`` does exactly that.
    """
    classes = []
    for type_, payload in payloads.items():
        if payload is msgspec.Raw:
            data: Any = ("data", msgspec.Raw, _EMPTY)
        else:
            data = ("data", payload, msgspec.field(default_factory=payload))
        name = "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", type_)) + "Event"
        classes.append(msgspec.defstruct(name, [data], bases=(TypedEvent,), tag=type_, frozen=True, gc=False,
                                         namespace={"type": type_, "__module__": __name__}))
    union: Any = Union[tuple(classes)] if len(classes) > 1 else classes[0]
    return msgspec.json.Decoder(union)
