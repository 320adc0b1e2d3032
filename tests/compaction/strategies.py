"""Histories worth compacting: the projection tests' messy journals, with most sessions ended.

`tests.projections.strategies.journals` draws realistic interleaved sessions, but few
of them end, so few would be compacted. `histories` ends most sessions at a random
point after one of their events (later events of the same id then read as a resumed
session, which compaction must also survive).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.projections.strategies import Draft, journals

__all__ = ["histories"]


@st.composite
def histories(draw: Any, max_steps: int = 60) -> list[Draft]:
    """Draft events (timestamps non-decreasing) in which most sessions end somewhere."""
    drafts: list[Draft] = list(draw(journals(max_steps=max_steps)))
    for sid in sorted({d.session for d in drafts if d.session}):
        if not draw(st.booleans()) and not draw(st.booleans()):
            continue  # a quarter of the sessions never end
        at = draw(st.sampled_from([i for i, d in enumerate(drafts) if d.session == sid]))
        data = {"session_id": sid, "hook_event_name": "SessionEnd", "reason": "other"}
        drafts.insert(at + 1, Draft("SessionEnd", data, sid, None, drafts[at].ts))
    return drafts
