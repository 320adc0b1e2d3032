"""The lock primitive (`journal.storage.locking.FileLock`): deadlines, no polling, threads, fork.

Nothing here asserts a timing window. That a waiter does not oversleep is shown by
counting: it makes one non-blocking try and then one blocking ``flock`` call that the
kernel ends at the release (a polling waiter makes a try per sleep and never blocks).
Deadlines are checked from below only (it did wait until the deadline), which cannot flake.
Helper threads are counted too: the main thread waits without one (`FileLock.threads`).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import fcntl
import pytest

import journal.storage.locking as locking
from journal import Journal
from journal.errors import LockTimeout
from journal.storage.locking import FileLock

#: Generous upper bound for waits that end by an event; reaching it fails the test (never a pass).
_HANG = 30.0


class _CountingFcntl:
    """Stands in for the `fcntl` module inside `journal.storage.locking`: records every flock call."""

    LOCK_EX, LOCK_NB, LOCK_UN, LOCK_SH = fcntl.LOCK_EX, fcntl.LOCK_NB, fcntl.LOCK_UN, fcntl.LOCK_SH

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.blocking = threading.Event()

    def flock(self, fd: int, op: int) -> None:
        self.calls.append((threading.current_thread().name, op))
        if op == fcntl.LOCK_EX:
            self.blocking.set()
        fcntl.flock(fd, op)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _CountingFcntl:
    fake = _CountingFcntl()
    monkeypatch.setattr(locking, "fcntl", fake)

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the lock slept ({seconds} s): it must block in flock, not poll")

    monkeypatch.setattr(time, "sleep", no_sleep)
    return fake


def test_a_waiter_blocks_once_and_wakes_at_the_release(tmp_path: Path, counting: _CountingFcntl) -> None:
    path = tmp_path / "x.lock"
    holder, waiter = FileLock(path), FileLock(path)
    assert holder.try_lock()
    got = threading.Event()

    def wait() -> None:
        waiter.lock(time.monotonic() + _HANG)
        got.set()

    thread = threading.Thread(target=wait, name="waiter")
    thread.start()
    assert counting.blocking.wait(_HANG), "the waiter never blocked in flock (it polls)"
    assert not got.is_set()
    holder.unlock()
    assert got.wait(_HANG)
    thread.join()
    mine = [op for name, op in counting.calls if name != "MainThread"]
    # One try from the waiter's thread, then one blocking call from its helper thread.
    assert mine == [fcntl.LOCK_EX | fcntl.LOCK_NB, fcntl.LOCK_EX]
    assert (waiter.waits, waiter.threads) == (1, 1)  # not the main thread: a helper thread waits
    assert not holder.try_lock()  # the waiter holds it now
    waiter.unlock()
    assert holder.try_lock()
    holder.unlock()


def test_the_main_thread_waits_without_a_helper_thread_and_keeps_its_deadline(
    tmp_path: Path, counting: _CountingFcntl
) -> None:
    path = tmp_path / "x.lock"
    holder, waiter = FileLock(path), FileLock(path)
    holder.lock(None)
    deadline = time.monotonic() + 0.05
    with pytest.raises(LockTimeout, match="x.lock is locked"):
        waiter.lock(deadline)
    assert time.monotonic() >= deadline
    assert (waiter.waits, waiter.threads) == (1, 0)  # one blocking flock, in this thread
    mine = [op for name, op in counting.calls if name == "MainThread"][1:]  # after the holder's
    assert mine == [fcntl.LOCK_EX | fcntl.LOCK_NB, fcntl.LOCK_EX, fcntl.LOCK_EX | fcntl.LOCK_NB]
    # The timer and the handler are the caller's again.
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    holder.unlock()
    waiter.lock(time.monotonic() + _HANG)  # the same descriptor: nothing was handed away
    assert (waiter.waits, waiter.threads) == (1, 0)
    waiter.unlock()


def test_a_waiter_in_the_main_thread_wakes_at_the_release(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder, waiter = FileLock(path), FileLock(path)
    holder.lock(None)
    releaser = threading.Timer(0.05, holder.unlock)
    releaser.start()
    waiter.lock(time.monotonic() + _HANG)
    releaser.join()
    assert (waiter.waits, waiter.threads) == (1, 0)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    waiter.unlock()


def test_the_callers_signals_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder, waiter = FileLock(path), FileLock(path)
    holder.lock(None)
    seen: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum))
    try:
        # Another signal arrives while the main thread blocks: its handler runs, the wait goes on.
        poke = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1))
        release = threading.Timer(0.15, holder.unlock)
        poke.start()
        release.start()
        waiter.lock(time.monotonic() + _HANG)
        poke.join()
        release.join()
        assert seen == [signal.SIGUSR1]
        assert (waiter.waits, waiter.threads) == (1, 0)
        waiter.unlock()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    # A caller that uses SIGALRM itself: its handler and timer stay; a helper thread waits.
    holder.lock(None)
    alarms: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: alarms.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 60.0)
        with pytest.raises(LockTimeout):
            waiter.lock(time.monotonic() + 0.05)
        assert (waiter.waits, waiter.threads) == (2, 1)
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60.0
        assert alarms == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # SIGALRM blocked: a timer could not end the wait, so a helper thread waits instead.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        with pytest.raises(LockTimeout):
            waiter.lock(time.monotonic() + 0.05)
        assert (waiter.waits, waiter.threads) == (3, 2)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
    holder.unlock()


def test_the_deadline_is_kept_and_the_abandoned_wait_lets_go(tmp_path: Path, counting: _CountingFcntl) -> None:
    """Off the main thread a helper thread blocks in flock; at the deadline it is abandoned."""
    path = tmp_path / "x.lock"
    holder, waiter, third = FileLock(path), FileLock(path), FileLock(path)
    holder.lock(None)
    deadline = time.monotonic() + 0.05
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            waiter.lock(deadline)
        except LockTimeout as e:
            errors.append(e)

    thread = threading.Thread(target=wait)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "x.lock is locked" in str(errors[0])
    assert time.monotonic() >= deadline
    assert (waiter.waits, waiter.threads) == (1, 1)
    holder.unlock()
    # The abandoned helper thread takes the lock once it is free, and closes its descriptor:
    # that releases it, so a third party gets it without any deadline.
    third.lock(None)
    assert not waiter.try_lock()
    third.unlock()
    waiter.lock(time.monotonic() + _HANG)  # a fresh descriptor: it was handed to the helper
    waiter.unlock()


def test_a_spinning_waiter_takes_a_lock_released_while_it_yields(
    tmp_path: Path, counting: _CountingFcntl, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.lock"
    holder, waiter = FileLock(path), FileLock(path, spins=5)
    holder.lock(None)
    yields: list[int] = []
    release_at = [3]

    def sched_yield() -> None:  # the holder lets go during the waiter's third yield (once)
        yields.append(1)
        if len(yields) == release_at[0]:
            holder.unlock()

    monkeypatch.setattr(os, "sched_yield", sched_yield)
    waiter.lock(time.monotonic() + _HANG)
    assert len(yields) == 3
    assert (waiter.waits, waiter.threads) == (0, 0)  # it never blocked
    nb = fcntl.LOCK_EX | fcntl.LOCK_NB
    # The holder's lock; the waiter's try and two tries after yields; the release; the third try.
    assert [op for _, op in counting.calls] == [nb, nb, nb, nb, fcntl.LOCK_UN, nb]
    waiter.unlock()
    # The spin is bounded: a lock that stays held costs *spins* more tries, then one block.
    holder.lock(None)
    counting.calls.clear()
    yields.clear()
    release_at[0] = 0
    with pytest.raises(LockTimeout):
        waiter.lock(time.monotonic() + 0.05)
    assert len(yields) == 5
    assert [op for _, op in counting.calls] == [nb] * 6 + [fcntl.LOCK_EX, nb]  # the last: was it got at the deadline?
    assert (waiter.waits, waiter.threads) == (1, 0)
    holder.unlock()


def test_a_past_deadline_means_one_try(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder, other = FileLock(path), FileLock(path)
    holder.lock(time.monotonic() - 1)  # free: the one try succeeds
    with pytest.raises(LockTimeout):
        other.lock(time.monotonic() - 1)
    assert other.waits == 0  # no helper thread was started
    holder.unlock()


def test_threads_sharing_one_lock_exclude_each_other(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "x.lock")
    lock.lock(None)
    results: list[object] = []

    def other() -> None:
        results.append(lock.try_lock())
        try:
            lock.lock(time.monotonic() + 0.02)
        except LockTimeout as e:
            results.append(e)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    # The flock is the descriptor's, shared by both threads: only the mutex keeps them apart.
    assert results[0] is False and isinstance(results[1], LockTimeout)
    lock.unlock()
    assert lock.try_lock()
    lock.unlock()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_share_the_parents_lock(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "x.lock")
    assert lock.try_lock()
    lock.unlock()  # the descriptor stays open, and a fork copies it
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if lock.try_lock():
                os.write(to_parent_w, b"1")
                os.read(to_child_r, 1)
                code = 0
        finally:
            os._exit(code)
    try:
        assert os.read(to_parent_r, 1) == b"1"
        assert not lock.try_lock(), "parent and child both hold the lock through one open file"
    finally:
        os.write(to_child_w, b"x")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert lock.try_lock()
    lock.unlock()


def test_a_deleted_lock_file_is_reopened(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    old = FileLock(directory / "x.lock")
    assert old.try_lock()
    old.unlock()
    shutil.rmtree(directory)  # e.g. the journal was deleted and made again
    directory.mkdir()
    new = FileLock(directory / "x.lock")
    new.lock(None)
    assert not old.try_lock(), "locked the deleted file, which excludes nobody"
    new.unlock()
    assert old.try_lock()
    old.unlock()


def test_threads_appending_through_one_journal_get_distinct_seqs(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j", durability="flush")
    seqs: list[int] = []

    def work(n: int) -> None:
        for i in range(50):
            seqs.append(journal.append("work", {"thread": n, "i": i}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 201))
    report = journal.verify()
    assert report.ok and report.events == 200
