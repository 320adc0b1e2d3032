"""Property: compaction never changes what any projection says (journal-anchors §6.4, property 1).

For any generated history (the projection tests' messy, interleaved sessions), any two
horizons, with or without the archive, and with events appended between two
compactions (a session resumed after it was compacted, say): every projection folded
over the compacted journal equals the fold of the original, record order included, and
so does everything derived from it (lists, snapshots, related sessions, every recovery
context, pending resume requests, timelines). `verify` is clean, and with the archive
the original history reads back byte for byte.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from journal.compaction import sealed_upto
from projections.compaction import compact
from projections.liveness import Liveness
from projections.runner import load_views
from projections.text import parse_ts
from tests.compaction.observe import clone, diff_keys, history, observe, open_journal, write
from tests.compaction.strategies import histories
from tests.projections.strategies import Draft, to_new_events


def probe(pid: int) -> str | None:
    """Odd pids are alive (start "100"), even ones gone: some sessions are crashed, some active."""
    return "100" if pid % 2 else None


def dead(pid: int) -> str | None:
    """Every recorded process is gone: every unended session is crashed (or stale)."""
    return None


def _horizon(drafts: list[Draft], at: float) -> float:
    """An instant inside the history (epoch seconds): a fraction *at* of the way through it."""
    if not drafts:
        return 0.0
    i = min(len(drafts) - 1, int(len(drafts) * at))
    return parse_ts(drafts[i].ts) + 0.5


@given(
    drafts=histories(max_steps=60),
    split=st.floats(0, 1),
    first=st.floats(0, 1),
    second=st.one_of(st.just(1.0), st.floats(0, 1)),
    drop=st.booleans(),
    all_dead=st.booleans(),
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_every_projection_folds_the_same_after_compaction(
    drafts: list[Draft], split: float, first: float, second: float, drop: bool, all_dead: bool
) -> None:
    probe_ = dead if all_dead else probe
    k = int(len(drafts) * split)
    now = (parse_ts(drafts[-1].ts) if drafts else 0.0) + 60.0
    live = Liveness(now=now, probe=probe_, stale_after=1800)
    h1 = _horizon(drafts[:k], first)
    h2 = max(h1, _horizon(drafts, second))
    with tempfile.TemporaryDirectory() as tmp:
        original = open_journal(Path(tmp) / "original")
        write(original, to_new_events(drafts[:k]))
        compacted = clone(original.root, Path(tmp) / "compacted")
        one = compact(compacted, older_than="0s", now=h1, probe=probe_, archive=not drop)
        events = to_new_events(drafts[k:])
        write(original, events)
        write(compacted, events)
        two = compact(compacted, older_than="0s", now=h2, probe=probe_, archive=not drop)
        gone = set(one.session_ids) | set(two.session_ids)
        gone_agents = set(one.agent_ids) | set(two.agent_ids)
        event(f"compacted {min(len(gone), 3)}+ sessions" if gone else "compacted nothing")
        event(f"guard retries: {one.retries + two.retries}")

        report = compacted.verify()
        assert report.ok, report.to_dict()
        assert not report.leftovers and not report.pending_swap
        assert compacted.last_seq() == original.last_seq()
        # Nothing at or after the newest segment was touched.
        limit = sealed_upto(compacted.root, compacted.manifest())
        kept_tail = [e for e in history(compacted, archived=False) if e[0] > limit]
        assert kept_tail == [e for e in history(original, archived=False) if e[0] > limit]

        keep = (lambda sid: True) if not drop else (lambda sid: sid not in gone)
        a = observe(original, live, timelines=keep)
        b = observe(compacted, live, timelines=keep)
        assert a == b, f"differs in {diff_keys(a, b)}; compacted {sorted(gone)}"
        # The caches compaction left behind (the guard's fold) give the same answers.
        assert observe(compacted, live, use_cache=True, timelines=keep) == a

        if not drop:
            assert history(compacted) == history(original), "the archive does not give back the original history"
        else:
            dropped = {e[0] for e in history(original)} - {e[0] for e in history(compacted)}
            agents = load_views(original, use_cache=False, save=False).agents.records
            for seq, _, _, session, agent, _ in history(original):
                if seq in dropped and session is None:
                    # an agent's own events go with its parent session, or alone
                    rec = agents.record(agent) if agent else None
                    assert agent in gone_agents or (rec is not None and rec.parent in gone), seq
                elif seq in dropped:
                    assert session in gone, seq
