"""The journal's append lock: an exclusive advisory lock on ``journal.lock``.

On POSIX this calls ``fcntl.flock`` directly, which is exactly the primitive
portalocker uses there (``portalocker.portalocker.LOCKER = fcntl.flock``), so the two
interoperate. We skip portalocker on the hot path because ``import portalocker`` costs
40-55 ms here (its ``__about__`` loads importlib.metadata), more than a whole hook's
budget; on other platforms portalocker does the locking.

The lock file is permanent: it is never renamed or unlinked, so a waiter can never
lock a stale inode (portalocker #115). Locks die with their process, so a SIGKILLed
writer never leaves the journal locked.
"""

from __future__ import annotations

import os
import time

from journal.errors import JournalPermissionError, LockTimeout
from journal.layout import open_private

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

__all__ = ["JournalLock"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class JournalLock:
    """Context manager holding the journal's exclusive lock, with a timeout.

    Polls every few milliseconds (portalocker's default 250 ms interval would add a
    quarter second to a contended hook) until *timeout* seconds have passed, then
    raises `LockTimeout`. ``timeout=0`` means exactly one try.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._portalocker_file: Any = None  # a portalocker.Lock where fcntl is missing

    def __enter__(self) -> JournalLock:
        if fcntl is None:  # pragma: no cover - Windows
            return self._enter_portalocker()
        try:
            fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as e:
            raise JournalPermissionError(f"cannot open lock file {self.path}: {e.strerror}") from e
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(
                        f"journal is locked by another process (waited {self.timeout:g}s for {self.path})"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.01)
            except OSError as e:
                os.close(fd)
                raise JournalPermissionError(f"cannot lock {self.path}: {e.strerror}") from e
        self._fd = fd
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
        if self._fd is not None:
            # Closing the descriptor releases the flock; no explicit unlock needed.
            os.close(self._fd)
            self._fd = None
        if self._portalocker_file is not None:  # pragma: no cover - Windows
            self._portalocker_file.release()
            self._portalocker_file = None
