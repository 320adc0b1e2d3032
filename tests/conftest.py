"""Shared fixtures. Tests import the installed distribution, never the source tree."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# Test helpers are imported as `tests.*`. The repo root goes at the END of sys.path so
# that `journal`, `projections`, `hooks` and `cli` still come from the installed
# distribution (site-packages), never from the source tree.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from tests.profiles import load as _load_hypothesis_profile  # noqa: E402 - needs the path above

_load_hypothesis_profile()


class FakeClock:
    """Stands in for the `time` module of the code under test: ``sleep`` advances
    ``monotonic`` at once, so a test asserts how long the code *would* have waited
    (exactly, on any machine) instead of timing it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


@pytest.fixture
def lock_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for the journal lock's wait (`journal.storage.locking`)."""
    from journal.storage import locking

    clock = FakeClock()
    monkeypatch.setattr(locking, "time", clock)

    def block(lock: Any, seconds: float) -> bool:  # a timed wait that the lock's holder outlasts
        if lock.acquire(False):
            return True
        clock.now += seconds
        return bool(lock.acquire(False))

    def flock_until(fd: int, seconds: float) -> bool:  # the same for a blocking flock with a deadline
        import fcntl

        for attempt in range(2):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if attempt == 0:
                    clock.now += max(0.0, seconds)
        return False

    monkeypatch.setattr(locking, "_block", block)
    monkeypatch.setattr(locking, "_flock_until", flock_until)
    return clock


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    """A path for a fresh journal (not created yet)."""
    return tmp_path / "journal"


@pytest.fixture
def journal(journal_dir: Path):
    """A fresh, empty journal with the default settings."""
    from journal import Journal

    return Journal.open(journal_dir)


@pytest.fixture(autouse=True, scope="session")
def _private_journal_registry(tmp_path_factory: pytest.TempPathFactory):
    """Hooks and commands note journals in ``$XDG_DATA_HOME/agent-journal/projects.json``
    (journal.registry): during tests, in a temporary directory, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test drives the real Claude Code binary: seconds each, so `slow`."""
    e2e = Path(__file__).resolve().parent / "e2e"
    for item in items:
        if e2e in item.path.parents:
            item.add_marker(pytest.mark.slow)
