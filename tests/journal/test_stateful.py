"""Model-based test: the journal against a plain list, under appends, reads, rolls, reopens and tears.

Hypothesis drives a `RuleBasedStateMachine` (the shape of its own ``DatabaseComparison``):
every rule acts on the real journal and on the model, and after every step the log must
equal the model exactly (seqs 1..n without gaps, every field and payload), ``verify`` must
be clean, and a torn tail, right after one is made, must be invisible to readers, reported
by ``verify`` at its exact offset, and repaired by the next append. Runs derandomized, so
a failure reproduces by rerunning.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from journal import Journal, NewEvent
from journal.storage.codec import encode_data, encode_record, now_ts, valid_type
from journal.errors import TornTail
from journal.layout import QUARANTINE_DIR, list_segments, open_private, segment_name
from tests.profiles import examples

SEGMENT_BYTES = 4096

# -- strategies -------------------------------------------------------------------------

_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_scalar = (
    st.none()
    | st.booleans()
    | _int64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
payloads = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=12), _json, max_size=5),
    # Now and then a big one, so segments fill up without the roll rule.
    st.builds(lambda n, c: {"blob": c * n}, st.integers(200, 1500), st.sampled_from(["x", "é", "😀", "\u2028"])),
)
event_types = st.sampled_from(["PreToolUse", "PostToolUse", "SessionStart", "note", "Stop"]) | st.text(
    st.characters(categories=("L", "M", "N", "P", "S")), min_size=1, max_size=16
).filter(valid_type)
ids = st.none() | st.text(max_size=16) | st.uuids().map(str)
new_events = st.builds(NewEvent, type=event_types, data=payloads, session=ids, agent=ids)


def _expected(event: NewEvent) -> tuple[Any, ...]:
    return (event.type, event.session, event.agent, {} if event.data is None else event.data)


def _actual(event: Any) -> tuple[Any, ...]:
    return (event.type, event.session, event.agent, event.payload())


# -- the machine ---------------------------------------------------------------------------


class JournalMachine(RuleBasedStateMachine):
    """A journal with 4 KiB segments next to a list of what was appended."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="journal-stateful-"))
        self.root = self.tmp / "journal"
        Journal.open(self.root)
        # The segment size comes from the journal's own config file, as a user would set it.
        (self.root / "config.json").write_text(json.dumps({"segment_bytes": SEGMENT_BYTES, "durability": "flush"}))
        self.journal = Journal.open(self.root)
        assert self.journal.config.segment_bytes == SEGMENT_BYTES
        self.model: list[tuple[Any, ...]] = []
        #: (segment, offset, bytes) of the torn tail written since the last append.
        self.torn: tuple[Path, int, bytes] | None = None

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------

    def _appended(self, seqs: list[int], events: list[NewEvent]) -> None:
        n = len(self.model)
        assert seqs == list(range(n + 1, n + 1 + len(events))), (seqs, n)
        self.model.extend(_expected(e) for e in events)
        if self.torn is not None:
            # The append cut the torn bytes off and kept them in quarantine.
            path, offset, torn = self.torn
            kept = self.root / QUARANTINE_DIR / f"{path.name}.{offset}.torn"
            assert kept.read_bytes() == torn
            self.torn = None

    def _compare(self, events: list[Any], first: int, last: int) -> None:
        assert [e.seq for e in events] == list(range(first, last + 1))
        assert [_actual(e) for e in events] == self.model[first - 1 : last]

    # -- rules ---------------------------------------------------------------------------

    @rule(event=new_events)
    def append(self, event: NewEvent) -> None:
        seq = self.journal.append(event.type, event.data, session=event.session, agent=event.agent)
        self._appended([seq], [event])

    @rule(event=new_events)
    def append_preencoded(self, event: NewEvent) -> None:
        """Payload bytes given as-is (how hooks pass the stdin JSON through)."""
        data = encode_data(event.data)
        seq = self.journal.append(event.type, data, session=event.session, agent=event.agent)
        self._appended([seq], [event])

    @rule(events=st.lists(new_events, max_size=6))
    def append_many(self, events: list[NewEvent]) -> None:
        self._appended(self.journal.append_many(events), events)

    @rule()
    def read_all(self) -> None:
        self._compare(list(self.journal.read()), 1, len(self.model))

    @rule(data=st.data())
    def read_from(self, data: st.DataObject) -> None:
        n = len(self.model)
        first = data.draw(st.integers(1, n + 2), label="from_seq")
        self._compare(list(self.journal.read(first)), first, n)

    @rule(data=st.data())
    def read_range(self, data: st.DataObject) -> None:
        n = len(self.model)
        first = data.draw(st.integers(1, n + 2), label="from_seq")
        last = data.draw(st.integers(0, n + 2), label="to_seq")
        self._compare(list(self.journal.read(first, to_seq=last)), first, min(last, n))

    @rule()
    def reopen(self) -> None:
        self.journal = Journal.open(self.root)

    @rule(char=st.sampled_from(["x", "ü", "字"]))
    def force_roll(self, char: str) -> None:
        before = len(list_segments(self.root))
        event = NewEvent("filler", {"pad": char * (SEGMENT_BYTES // len(char.encode()))})
        self._appended(self.journal.append_many([event]), [event])
        segments = list_segments(self.root)
        assert len(segments) > before
        sealed = self.journal.manifest().segments
        assert [s.name for s in sealed] == [p.name for _, p in segments[:-1]]

    @rule(data=st.data())
    def tear(self, data: st.DataObject) -> None:
        """A writer crashed mid-record: the active segment ends in bytes without a newline."""
        segments = list_segments(self.root)
        if segments:
            path = segments[-1][1]
        else:
            path = self.root / "segments" / segment_name(1)
            os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
        event = data.draw(new_events, label="torn event")
        line = encode_record(len(self.model) + 1, now_ts(), event.type, encode_data(event.data),
                             session=event.session, agent=event.agent)
        offset = path.stat().st_size
        torn = data.draw(
            st.one_of(
                st.integers(1, len(line) - 1).map(lambda cut: line[:cut]),  # up to the whole line but "\n"
                st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\n", b" ")),
                st.integers(1, 4096).map(lambda n: b"\0" * n),  # an unsynced, zero-filled page
                # Torn bytes that take the segment past its roll size.
                st.integers(0, 8).map(lambda k: b"\0" * max(1, SEGMENT_BYTES - offset + k)),
            ),
            label="torn bytes",
        )
        with open(path, "ab") as f:
            f.write(torn)
        if self.torn is None:
            self.torn = (path, offset, torn)
        else:
            self.torn = (self.torn[0], self.torn[1], self.torn[2] + torn)

    @precondition(lambda self: self.torn is not None)
    @rule()
    def strict_read_refuses_torn_tail(self) -> None:
        try:
            list(self.journal.read(mode="strict"))
        except TornTail as e:
            assert self.torn is not None
            assert (e.file, e.offset) == (str(self.torn[0]), self.torn[1])
        else:
            raise AssertionError("strict read accepted a torn tail")

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def log_equals_model(self) -> None:
        damage: list[Any] = []
        events = list(self.journal.read(on_damage=damage.append))
        self._compare(events, 1, len(self.model))
        assert self.journal.last_seq() == len(self.model)
        if self.torn is None:
            assert damage == []
        else:
            assert [(d.kind, d.file, d.offset) for d in damage] == [("torn_tail", str(self.torn[0]), self.torn[1])]

    @invariant()
    def verify_is_clean(self) -> None:
        report = self.journal.verify()
        assert report.events == len(self.model)
        assert report.last_seq == (len(self.model) or None)
        assert (report.gaps, report.corrupt, report.duplicates) == ([], [], [])
        assert (report.missing_segments, report.segment_mismatches, report.leftovers) == ([], [], [])
        if self.torn is None:
            assert report.ok, report.to_dict()
        else:
            assert not report.ok
            assert report.torn_tail is not None
            assert (report.torn_tail["file"], report.torn_tail["offset"]) == (str(self.torn[0]), self.torn[1])


JournalMachine.TestCase.settings = settings(
    max_examples=examples(100),
    stateful_step_count=50,
    deadline=None,
    derandomize=True,  # seeded: the same examples every run, so a failure always reproduces
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],  # no slow 'explain'
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestJournalModel = pytest.mark.slow(JournalMachine.TestCase)
