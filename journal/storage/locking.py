"""The one lock primitive: an exclusive advisory lock on a permanent lock file, with a deadline.

`FileLock` is what every lock file of a journal uses (``journal.lock``, the compaction
and ship locks, the search index's, the registry's, the disk-full overflow spool's):

- ``try_lock()`` takes it if it is free, at once;
- ``lock(deadline)`` blocks until it is free or *deadline* (a `time.monotonic` value)
  passes, then raises `LockTimeout`. A waiter sleeps in the kernel and wakes when the
  holder releases: it never sleeps between tries, so it never oversleeps a release (the
  old loop slept up to 10 ms per try, which made the contended p99 of an append 47 ms).

How a waiter waits (measured with 4 writers on 2 cores, ``bench/vs_sqlite.py``):

1. With *spins* set (the journal writer under ``durability=flush``, whose holders keep
   the lock ~15 µs), a few more non-blocking tries, each after ``sched_yield``: the
   holder usually lets go within them. Bounded, and never a sleep. Without it a woken
   waiter often found the lock taken again by the running holder before it got a CPU,
   for a whole time slice: contended flush p99 4.8 ms, with it 0.4 ms (medians of 5).
2. A blocking ``flock`` in the calling thread, ended at the deadline by a one-shot
   ``SIGALRM`` timer whose handler raises (`_flock_until`), as `journal.privacy.redaction`
   bounds a regex. Python retries ``flock`` on ``EINTR`` after running the caller's own
   handlers (PEP 475), so other signals pass through untouched. Used only where it
   disturbs nobody: in the main thread, with ``SIGALRM`` at its default, not blocked,
   and no ``ITIMER_REAL`` running; the handler is put back before `lock` returns.
3. Elsewhere (another thread, or a caller that uses ``SIGALRM``), ``flock`` blocks in a
   short-lived helper thread and the caller waits for it on a thread lock with a
   timeout. If the deadline passes first, the caller gives the descriptor to the helper
   and opens a new one next time; the helper, once it gets the lock, closes that
   descriptor, which releases the lock again. (This was the only way before: a thread
   per wait cost 4 contended fsync writers 205-326 µs CPU per append against 159-210.)

On POSIX this is ``fcntl.flock``, exactly the primitive portalocker uses there
(``portalocker.portalocker.LOCKER = fcntl.flock``), so the two interoperate. portalocker
is not on the hot path (``import portalocker`` costs 40-55 ms); on other platforms it
does the locking.

The lock file is permanent: it is never renamed or unlinked, so a waiter can never lock a
stale inode (portalocker #115), and its descriptor can stay open between uses. Locks die
with their process, so a SIGKILLed holder never leaves a journal locked.

Named races and their answers:

- Threads of one process sharing one `FileLock` share its descriptor, and an flock
  belongs to the open file description, not to a thread. So a thread mutex is taken first
  (with the same deadline), then the flock.
- A forked child inherits the descriptor, hence the same open file description: parent
  and child would both "hold" the flock. After a fork the child closes the inherited
  descriptors (`os.register_at_fork`) and each `FileLock` opens a fresh one when next used.
  Do not fork while holding a lock (journal-anchors §7.3).
- The timer may fire just after ``flock`` returned, or while it is being disarmed: the
  handler raises only while armed, once, and a non-blocking retry on the same descriptor
  then tells whether the lock is ours (it is: that is the lock taken as the deadline passed).
"""

from __future__ import annotations

import _thread
import os
import time

from journal.errors import JournalPermissionError, LockTimeout
from journal.layout import open_private

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    import signal as _signal  # the same functions, typed
    from types import TracebackType
    from typing import Any, Callable
else:
    import _signal  # built in and loaded at startup; `signal` would import `enum` too

__all__ = ["FileLock", "JournalLock", "deadline"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Descriptors opened by a `FileLock` in this process (held by one, or by an abandoned waiter).
_OPEN: set[int] = set()
#: Bumped in a forked child: a `FileLock` opened in another generation reopens its file.
_generation = 0


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1
    for fd in list(_OPEN):
        try:
            os.close(fd)  # the parent's copy keeps the open file description (and any flock)
        except OSError:
            pass
    _OPEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def deadline(timeout: float) -> float:
    """The deadline *timeout* seconds from now, on the clock `FileLock.lock` compares it with."""
    return time.monotonic() + timeout


def _block(lock: Any, seconds: float) -> bool:
    """``lock.acquire`` waiting at most *seconds*: every timed wait of this module goes
    through here (a test's fake clock replaces it with one that advances the clock)."""
    return bool(lock.acquire(True, seconds))


def _close(fd: int) -> None:
    _OPEN.discard(fd)
    os.close(fd)


class FileLock:
    """An exclusive advisory lock on the file *path* (created 0600), safe across threads and processes.

    Not reentrant: a thread that holds it and asks again waits until its deadline.
    *opener* opens the file for locking (default: `journal.layout.open_private` read-write,
    creating it: no symlinks, ours only). *spins*: extra non-blocking tries, each after a
    ``sched_yield``, before a waiter blocks (see the module doc; 0 for long holders).
    """

    def __init__(self, path: str | os.PathLike[str], *, opener: Callable[[Any], int] | None = None,
                 spins: int = 0) -> None:
        self.path = path
        self._opener = opener
        self.spins = spins
        self._fd = -1
        self._generation = _generation
        self._mutex = _thread.allocate_lock()
        #: Waits that blocked in ``flock`` (after the spins; one call each, never a poll).
        self.waits = 0
        #: Helper threads started for those waits (only where `_flock_until` cannot run).
        self.threads = 0
        #: The lock file's ``fstat`` from the last `lock` or `try_lock` that took it: its
        #: ``st_mtime_ns`` is how spoolers tell the next holder to look (`Writer.spool`).
        self.stat: os.stat_result | None = None
        self._portalocker_lock: Any = None  # where fcntl is missing

    def _portalocker(self, timeout: float | None, try_only: bool = False) -> bool:  # pragma: no cover - Windows
        """Take the lock with portalocker (platforms without ``fcntl``); mutex already held."""
        import portalocker

        lock = portalocker.Lock(str(self.path), "a", timeout=1e9 if timeout is None else timeout,
                                check_interval=0.005)
        try:
            lock.acquire()
        except portalocker.exceptions.LockException:
            self._mutex.release()
            if try_only:
                return False
            raise self._timeout() from None
        self._portalocker_lock = lock
        return True

    # -- taking and releasing ------------------------------------------------------------

    def try_lock(self) -> bool:
        """Take the lock if it is free right now; True if taken."""
        if not self._mutex.acquire(False):
            return False
        if fcntl is None:  # pragma: no cover - Windows
            return self._portalocker(0.0, try_only=True)
        try:
            while self._flock_nb(self._descriptor()):
                if self._still_linked():
                    return True
        except BaseException:
            self._mutex.release()
            raise
        self._mutex.release()
        return False

    def lock(self, deadline: float | None) -> None:
        """Take the lock, waiting until *deadline* (`time.monotonic` seconds; None: forever).

        Raises `LockTimeout` if it is still held elsewhere at the deadline (a deadline in
        the past means exactly one try), `JournalPermissionError` if the file cannot be
        opened or locked.
        """
        if not self._mutex.acquire(False):
            if deadline is None:
                self._mutex.acquire()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not _block(self._mutex, remaining):
                    raise self._timeout()
        if fcntl is None:  # pragma: no cover - Windows
            self._portalocker(None if deadline is None else max(0.0, deadline - time.monotonic()))
            return
        try:
            while True:
                fd = self._descriptor()
                if not self._flock_nb(fd):
                    self._wait(fd, deadline)
                if self._still_linked():
                    return
        except BaseException:
            self._mutex.release()
            raise

    def unlock(self) -> None:
        """Release the lock (the descriptor stays open for the next `lock`)."""
        try:
            if self._portalocker_lock is not None:  # pragma: no cover - Windows
                lock, self._portalocker_lock = self._portalocker_lock, None
                lock.release()
            elif self._fd >= 0 and self._generation == _generation:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def close(self) -> None:
        """Close the descriptor (releasing the lock if held); the next `lock` reopens it."""
        fd, self._fd = self._fd, -1
        if fd >= 0 and self._generation == _generation:
            _close(fd)

    def fileno(self) -> int:
        """The lock file's descriptor while the lock is held (e.g. to ``os.utime`` it)."""
        return self._fd

    def hold(self, timeout: float | None) -> _Held:
        """A context manager holding the lock, waiting at most *timeout* seconds (None: forever)."""
        return _Held(self, None if timeout is None else time.monotonic() + timeout)

    # -- internals --------------------------------------------------------------------------

    def _descriptor(self) -> int:
        if self._generation != _generation:  # a forked child: the inherited descriptor is closed
            self._generation = _generation
            self._fd = -1
        if self._fd < 0:
            try:
                if self._opener is None:
                    self._fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
                else:
                    self._fd = self._opener(self.path)
            except OSError as e:
                raise JournalPermissionError(f"cannot open lock file {self.path}: {e.strerror}") from e
            _OPEN.add(self._fd)
        return self._fd

    def _still_linked(self) -> bool:
        """False (and the lock dropped) if the locked file was deleted, e.g. with its journal:
        a process that opens the path now gets another file, so holding this one excludes nobody."""
        st = self.stat = os.fstat(self._fd)
        if st.st_nlink:
            return True
        self.close()
        return False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the process exit closes it anyway
            pass

    def _flock_nb(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError as e:
            raise JournalPermissionError(f"cannot lock {self.path}: {e.strerror}") from e

    def _wait(self, fd: int, deadline: float | None) -> None:
        """Block in ``flock`` until the lock is ours or *deadline* passes (see the module doc)."""
        for _ in range(self.spins):
            if deadline is not None and deadline <= time.monotonic():
                break
            os.sched_yield()
            if self._flock_nb(fd):
                return
        if deadline is not None and deadline <= time.monotonic():
            raise self._timeout()
        self.waits += 1
        if deadline is None:  # no deadline: block right here (signals still interrupt it, PEP 475)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as e:
                raise JournalPermissionError(f"cannot lock {self.path}: {e.strerror}") from e
            return
        try:
            got = _flock_until(fd, deadline - time.monotonic())
        except OSError as e:
            raise JournalPermissionError(f"cannot lock {self.path}: {e.strerror}") from e
        if got is None:
            self._wait_in_thread(fd, deadline)
        elif not got:
            raise self._timeout()

    def _wait_in_thread(self, fd: int, deadline: float) -> None:
        """`_wait` where no timer signal may be used: ``flock`` blocks in a helper thread."""
        done = _thread.allocate_lock()
        done.acquire()
        guard = _thread.allocate_lock()
        outcome: list[Any] = [None]  # None: waiting; True: locked; "abandoned"; or an OSError

        def waiter() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                result: Any = True
            except OSError as e:
                result = e
            with guard:
                if outcome[0] == "abandoned":
                    _close(fd)  # the caller gave up and left us the descriptor: this unlocks
                    return
                outcome[0] = result
            done.release()

        self.threads += 1
        _thread.start_new_thread(waiter, ())
        remaining = deadline - time.monotonic()
        if not (remaining > 0 and _block(done, remaining)):
            with guard:
                if outcome[0] is None:
                    outcome[0] = "abandoned"
                    self._fd = -1  # the waiter owns that descriptor now
                    raise self._timeout()
            done.acquire()  # it got the lock just as the deadline passed: take it
        if outcome[0] is not True:
            raise JournalPermissionError(f"cannot lock {self.path}: {outcome[0].strerror}")

    def _timeout(self) -> LockTimeout:
        return LockTimeout(f"{self.path} is locked by another process (gave up at the deadline)")


class _Expired(Exception):
    """Raised by `_expire` to end the blocking ``flock`` of `_flock_until` at its deadline."""


#: True while `_flock_until` waits: its timer's signal raises only then, and only once.
_armed = [False]


def _expire(signum: int, frame: Any) -> None:
    if _armed[0]:
        _armed[0] = False
        raise _Expired


def _flock_until(fd: int, seconds: float) -> bool | None:
    """Block in ``flock`` in this thread for at most *seconds*: True if locked, False at
    the deadline, None (nothing done) where a timer signal would disturb someone.

    The one timed ``flock`` of this module (a test's fake clock replaces it). The timer
    may fire just after ``flock`` returned: then the lock is ours all the same, and the
    non-blocking retry on the same descriptor says so.
    """
    if seconds <= 0:
        return False
    if (_signal.getsignal(_signal.SIGALRM) != _signal.SIG_DFL
            or _signal.getitimer(_signal.ITIMER_REAL) != (0.0, 0.0)
            or _signal.SIGALRM in _signal.pthread_sigmask(_signal.SIG_BLOCK, ())):
        return None  # the caller's (or blocked, so it could not end the wait): leave it alone
    try:
        _signal.signal(_signal.SIGALRM, _expire)
    except ValueError:  # not the main thread: only it may handle signals
        return None
    got = False
    try:
        try:
            _armed[0] = True
            _signal.setitimer(_signal.ITIMER_REAL, seconds)
            fcntl.flock(fd, fcntl.LOCK_EX)
            got = True
        finally:
            _armed[0] = False
            _signal.setitimer(_signal.ITIMER_REAL, 0)
    except _Expired:
        pass
    finally:
        try:
            _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
        except BaseException:  # a pending handler raised before the swap: the retry swaps
            _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
            raise
    if got:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class _Held:
    __slots__ = ("lock", "deadline")

    def __init__(self, lock: FileLock, deadline: float | None) -> None:
        self.lock = lock
        self.deadline = deadline

    def __enter__(self) -> FileLock:
        self.lock.lock(self.deadline)
        return self.lock

    def __exit__(self, *exc: object) -> None:
        self.lock.unlock()


class JournalLock:
    """Context manager holding the exclusive lock on *path* for one use, waiting at most *timeout* s.

    Opens the file on entry and closes it on exit; a caller that locks often (the
    `journal.storage.writer.Writer`) keeps a `FileLock` instead. ``timeout=0`` means
    exactly one try; `LockTimeout` says how long it waited.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._lock: FileLock | None = None
        self._portalocker_file: Any = None  # a portalocker.Lock where fcntl is missing

    def __enter__(self) -> JournalLock:
        if fcntl is None:  # pragma: no cover - Windows
            return self._enter_portalocker()
        lock = FileLock(self.path)
        try:
            lock.lock(deadline(self.timeout))
        except LockTimeout:
            lock.close()
            raise LockTimeout(
                f"journal is locked by another process (waited {self.timeout:g}s for {self.path})"
            ) from None
        except BaseException:
            lock.close()
            raise
        self._lock = lock
        return self

    def _enter_portalocker(self) -> JournalLock:  # pragma: no cover - Windows
        import portalocker

        lock = portalocker.Lock(str(self.path), "a", timeout=self.timeout, check_interval=0.005)
        try:
            self._portalocker_file = lock
            lock.acquire()
        except portalocker.exceptions.LockException as e:
            raise LockTimeout(f"journal is locked by another process ({self.path})") from e
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            try:
                lock.unlock()
            finally:
                lock.close()
        if self._portalocker_file is not None:  # pragma: no cover - Windows
            self._portalocker_file.release()
            self._portalocker_file = None
