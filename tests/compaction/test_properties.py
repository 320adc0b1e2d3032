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

import pytest

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from journal.compaction.compact import sealed_upto
from projections.compaction.compact import compact
from projections.read.liveness import Liveness
from projections.runner import load_views
from projections.text import parse_ts
from tests.compaction.observe import clone, diff_keys, history, observe, open_journal, write
from tests.compaction.strategies import histories
from tests.projections.strategies import Draft, to_new_events
from tests.profiles import examples


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


@pytest.mark.slow
@given(
    drafts=histories(max_steps=60),
    split=st.floats(0, 1),
    first=st.floats(0, 1),
    second=st.one_of(st.just(1.0), st.floats(0, 1)),
    drop=st.booleans(),
    all_dead=st.booleans(),
)
@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
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


def _fold(events: object) -> dict[str, object]:
    from projections.runner import PROJECTIONS, fold_events
    from tests.compaction.observe import state_of

    pairs = [(p, p.initial()) for p in PROJECTIONS]
    fold_events(pairs, events)  # type: ignore[arg-type]
    return {p.name: state_of(s) for p, s in pairs}


@pytest.mark.slow
@given(drafts=histories(max_steps=60), at=st.floats(0, 1))
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_a_reader_racing_the_swap_folds_the_same(drafts: list[Draft], at: float) -> None:
    """The swap renames the newest segment first, so a reader that started before it sees
    old segments up to some point and new ones after it, never the reverse: any such mix
    folds like the original (one query's answer is never wrong, even mid-swap)."""
    _check_racing_readers(drafts, _horizon(drafts, at))


def test_a_session_alone_across_segments_survives_a_racing_reader() -> None:
    """A session with no other session in between never moves in the recency order after
    its first event, so its restore sits early; its later events (in later segments) must
    still reach a reader that reads the early segment old and the later ones new."""
    from journal.storage.codec import now_ts
    from tests.projections.strategies import BASE_NS, SESSION_IDS

    a, b = SESSION_IDS[0], SESSION_IDS[1]
    drafts = [Draft("SessionStart", {"source": "startup", "cwd": "/p"}, a, None, now_ts(BASE_NS))]
    for i in range(40):
        drafts.append(Draft("UserPromptSubmit", {"prompt": f"step {i} " + "z" * 200}, a, None,
                            now_ts(BASE_NS + i * 10**9)))
    drafts.append(Draft("SessionEnd", {"reason": "other"}, a, None, now_ts(BASE_NS + 100 * 10**9)))
    for i in range(30):
        drafts.append(Draft("UserPromptSubmit", {"prompt": "later " + "w" * 200}, b, None,
                            now_ts(BASE_NS + (1000 + i) * 10**9)))
    _check_racing_readers(drafts, parse_ts(now_ts(BASE_NS + 200 * 10**9)), expect=[a])


def _check_racing_readers(drafts: list[Draft], horizon: float, expect: list[str] | None = None) -> None:
    import shutil

    from journal.storage.reader import Reader

    at = horizon
    with tempfile.TemporaryDirectory() as tmp:
        original = open_journal(Path(tmp) / "original")
        write(original, to_new_events(drafts))
        old_manifest = original.manifest()
        compacted = clone(original.root, Path(tmp) / "compacted")
        report = compact(compacted, older_than="0s", now=at, probe=dead)
        if expect is not None:
            assert report.session_ids == expect
        else:
            event("compacted something" if report.sessions else "compacted nothing")
        expected = _fold(original.read())
        names = sorted(p.name for p in (original.root / "segments").glob("*.jsonl"))
        for cut in range(len(names) + 1):
            mixed = Path(tmp) / f"mixed-{cut}"
            shutil.copytree(original.root, mixed)
            for name in names[cut:]:
                new = compacted.root / "segments" / name
                target = mixed / "segments" / name
                target.chmod(0o600)
                if new.exists():
                    target.write_bytes(new.read_bytes())
                else:
                    target.unlink()
            for manifest in (old_manifest, compacted.manifest()):
                assert _fold(Reader(mixed, manifest=manifest).events()) == expected, (cut, names)
            shutil.rmtree(mixed)
