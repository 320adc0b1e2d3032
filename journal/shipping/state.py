"""What shipping keeps in the journal directory, and when SessionEnd starts it.

Shipping (`journal.shipping.replicate`) copies events to PostgreSQL. This module is its
stdlib-only half, safe on the hook's hot path:

* the ``ship`` section of config.json (`ShipPolicy`), with ``AGENT_JOURNAL_SHIP_URL``;
* ``ship.json``, the shipped high-water mark per target (written atomically, 0600,
  only after the database committed), the last attempt and the last error;
* `maybe_start_auto_ship`, the SessionEnd trigger: a few stats, then a detached
  ``agent-journal ship --auto``, never a wait;
* `idle_report`, the answer of a ship with nothing to do, from ``ship.json`` and the
  journal's tail alone (what that detached run finds most of the time: it must cost
  next to nothing, so ``agent-journal ship`` asks it before loading click);
* `redact_url`: a DSN without its password, the only form that is ever written down.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from journal.storage.codec import now_ts
from journal.config import JournalConfig
from journal.detached import lock_held, start_cli
from journal.errors import ConfigError, JournalError
from journal.layout import log_error, open_private, read_manifest, write_atomic

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from journal.store import Journal

__all__ = [
    "SHIP_FILE",
    "SHIP_LOCK",
    "URL_ENV",
    "ShipError",
    "ShipPolicy",
    "ship_policy",
    "redact_url",
    "target_key",
    "read_ship_state",
    "write_ship_state",
    "maybe_start_auto_ship",
    "ShipStatus",
    "ship_status",
    "ShipReport",
    "idle_report",
]

SHIP_FILE = "ship.json"
SHIP_LOCK = "ship.lock"
URL_ENV = "AGENT_JOURNAL_SHIP_URL"
STATE_FORMAT = 1


class ShipError(JournalError):
    """Shipping failed: no driver, no target, the database refused, or the journal is damaged."""


class ShipPolicy:
    """The ``ship`` section of a journal's config, validated (url may come from the environment)."""

    __slots__ = ("url", "auto", "every", "batch")

    def __init__(self, url: str | None = None, auto: bool = True, every: str = "1m", batch: int = 20000) -> None:
        from journal.compaction.retention import parse_duration

        parse_duration(every)
        if url is not None and not isinstance(url, str):
            raise ConfigError(f"ship.url must be a connection string, got {type(url).__name__}")
        if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 1_000_000:
            raise ConfigError(f"ship.batch must be an integer between 1 and 1000000, got {batch!r}")
        self.url = url or None
        self.auto = auto
        self.every = every
        self.batch = batch

    def __repr__(self) -> str:
        url = redact_url(self.url) if self.url else None
        return f"ShipPolicy(url={url!r}, auto={self.auto!r}, every={self.every!r}, batch={self.batch!r})"


def ship_policy(config: JournalConfig | Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ShipPolicy:
    """The shipping policy: defaults < the ``ship`` section of config.json < ``AGENT_JOURNAL_SHIP_URL``."""
    extra = config.extra if isinstance(config, JournalConfig) else config
    section = extra.get("ship") if hasattr(extra, "get") else None
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError("the ship section of config.json must be a JSON object")
    known = {"url", "auto", "every", "batch"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"unknown ship setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = dict(section)
    if "auto" in values and not isinstance(values["auto"], bool):
        raise ConfigError(f"ship.auto must be true or false, got {values['auto']!r}")
    if "every" in values:
        values["every"] = str(values["every"])
    env = os.environ if environ is None else environ
    if env.get(URL_ENV):
        values["url"] = env[URL_ENV]
    return ShipPolicy(**values)


def _split_url(url: str) -> tuple[str, str] | None:
    """``(scheme://, rest)`` of a URL-style DSN, or None for a key=value DSN."""
    head, sep, rest = url.partition("://")
    return (head + sep, rest) if sep else None


def redact_url(url: str) -> str:
    """*url* with any password replaced by ``***`` (URL and ``key=value`` forms)."""
    parts = _split_url(url)
    if parts is not None:
        scheme, rest = parts
        netloc, slash, tail = rest.partition("/")
        if "@" in netloc:
            auth, _, host = netloc.rpartition("@")
            if ":" in auth:
                auth = auth.split(":", 1)[0] + ":***"
            netloc = auth + "@" + host
        if "password=" in tail:
            import re

            tail = re.sub(r"(password=)[^&]*", r"\1***", tail)
        return scheme + netloc + slash + tail
    import re

    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", url)


def target_key(url: str) -> str:
    """The name a target's high-water mark is filed under: the DSN without its password."""
    return redact_url(url)


def read_ship_state(root: Path) -> dict[str, Any]:
    """``ship.json``, or an empty state; a damaged file reads as empty (the database knows the truth)."""
    try:
        doc = json.loads((root / SHIP_FILE).read_bytes())
    except FileNotFoundError:
        doc = None
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict):
        doc = {}
    doc.setdefault("format", STATE_FORMAT)
    if not isinstance(doc.get("targets"), dict):
        doc["targets"] = {}
    return doc


def write_ship_state(root: Path, state: dict[str, Any]) -> None:
    """Replace ``ship.json`` atomically (tmp, fsync, rename), 0600."""
    write_atomic(root / SHIP_FILE, json.dumps(state, indent=1, sort_keys=True).encode() + b"\n")


def maybe_start_auto_ship(
    journal_root: str | os.PathLike[str],
    *,
    config: JournalConfig | None = None,
    python: str | Callable[[], str | None] | None = None,
    code_root: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    now: float | None = None,
) -> bool:
    """Start ``agent-journal ship --auto`` detached if shipping is configured and due.

    For the SessionEnd hook: a config lookup and two stats, never raises, never
    waits. Due means: a target URL is set (config or ``AGENT_JOURNAL_SHIP_URL``),
    ``ship.auto`` is on, no run holds ``ship.lock``, and the last start is older than
    ``ship.every``. *python* and *code_root* are as for
    `journal.compaction.retention.maybe_start_auto_compaction`. Returns True if a process started.
    """
    try:
        root = Path(journal_root)
        if config is None:
            from journal.config import load_config

            config = load_config(root)
        env = os.environ if environ is None else environ
        section = config.extra.get("ship")
        if section is None and not env.get(URL_ENV):
            return False  # the common case: shipping is not set up
        policy = ship_policy(config, env)
        if not policy.url or not policy.auto:
            return False
        from journal.compaction.retention import parse_duration

        lock = root / SHIP_LOCK
        now = time.time() if now is None else now
        try:
            since = now - os.stat(lock).st_mtime
        except FileNotFoundError:
            since = float("inf")
        if since < parse_duration(policy.every) or lock_held(lock):
            return False
        if callable(python):
            python = python()
            if python is None:
                return False
        # The lock file's mtime is the last start: touch it first, so a burst of
        # SessionEnds starts one run, not one each.
        fd = open_private(lock, os.O_WRONLY | os.O_CREAT)
        try:
            os.utime(fd)
        finally:
            os.close(fd)
        start_cli(root, ["ship", "--auto"], python=python, code_root=code_root, failure="auto_ship_failed")
        return True
    except Exception as e:  # noqa: BLE001 - a hook must never fail because of housekeeping
        log_error(Path(journal_root), "auto_ship_not_started", f"{type(e).__name__}: {e}")
        return False


def note_attempt(root: Path, state: dict[str, Any], *, error: str | None, target: str) -> None:
    """Record the outcome of a run in *state* and ``ship.json`` (the error already redacted)."""
    state["last_attempt"] = now_ts()
    state["last_target"] = target
    state["last_error"] = None if error is None else {"at": state["last_attempt"], "message": error}
    write_ship_state(root, state)


class ShipStatus:
    """``ship --status``: where this journal stands against a target, from local state only."""

    __slots__ = ("journal_id", "target", "last_seq", "shipped_seq", "pending", "last_ship", "last_attempt",
                 "last_error", "shipped_events", "targets")

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values[name])

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _pending(holes: list[list[int]], shipped: int, last: int) -> int:
    """Seqs after *shipped* up to *last* that hold events (the *holes*, compacted and lost ranges, do not)."""
    if last <= shipped:
        return 0
    count = last - shipped
    for first, end in _merged_holes(holes):
        lo, hi = max(first, shipped + 1), min(end, last)
        if lo <= hi:
            count -= hi - lo + 1
    return max(count, 0)


def _merged_holes(holes: list[list[int]]) -> list[tuple[int, int]]:
    ranges = sorted((r[0], r[1]) for r in holes)
    merged: list[tuple[int, int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def ship_status(journal: Journal, url: str | None) -> ShipStatus:
    """Pending events, last ship and last error for *url* (or the last target used), without connecting."""
    root = journal.root
    state = read_ship_state(root)
    manifest = journal.manifest()
    key = target_key(url) if url else state.get("last_target")
    target = state["targets"].get(key, {}) if key else {}
    shipped = int(target.get("seq", 0))
    last = journal.last_seq()
    return ShipStatus(
        journal_id=str(state.get("journal_id") or manifest.journal_id),
        target=key,
        last_seq=last,
        shipped_seq=shipped,
        pending=_pending(manifest.holes, shipped, last),
        last_ship=target.get("at"),
        last_attempt=state.get("last_attempt"),
        last_error=state.get("last_error"),
        shipped_events=int(target.get("events", 0)),
        targets={k: v for k, v in state["targets"].items()},
    )


class ShipReport:
    """What one run did (or, with ``connected`` False, found: nothing to do)."""

    __slots__ = ("journal_id", "target", "from_seq", "shipped_seq", "events", "inserted", "batches", "gaps",
                 "late", "retries", "seconds", "connected")

    def __init__(self, journal_id: str, target: str, from_seq: int, shipped_seq: int, *, connected: bool = True
                 ) -> None:
        self.journal_id = journal_id
        self.target = target
        self.from_seq = from_seq
        self.shipped_seq = shipped_seq
        self.events = self.inserted = self.batches = self.gaps = self.late = self.retries = 0
        self.seconds = 0.0
        self.connected = connected

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def idle_report(journal: Journal, url: str, migrated: str, state: dict[str, Any] | None = None
                ) -> ShipReport | None:
    """The report of a ship to *url* with nothing to do, or None if it has work (or cannot tell).

    Nothing to do: ``ship.json`` has a journal id and, for this target, a mark at the
    journal's last seq, the schema versions *migrated* (`journal.shipping.schema.versions`)
    and the manifest's epoch as the one late records were last looked for at. Reads
    three small files and the last segment's tail; no driver, no connection, no write.
    So a mark lowered in the database meanwhile (README: a secret scrubbed after it
    shipped) is seen by the next run that has something to send, which starts there.
    """
    root = journal.root
    if state is None:
        state = read_ship_state(root)
    key = target_key(url)
    mine = state["targets"].get(key)
    journal_id = state.get("journal_id")
    if not isinstance(mine, dict) or not journal_id or mine.get("migrated") != migrated:
        return None
    try:
        seq = int(mine.get("seq", 0))
        late_epoch = int(mine.get("late_epoch", 0))
    except (TypeError, ValueError):
        return None
    if late_epoch != int(read_manifest(root).get("epoch", 0)) or seq < journal.last_seq():
        return None
    return ShipReport(str(journal_id), key, seq, seq, connected=False)
