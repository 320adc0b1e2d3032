"""Running the projections over a journal: caches, incremental folds, time travel.

``state = fold(cache) + fold(events after cache.seq)`` (journal-anchors §2.5, §7.6):
`load_views` loads each projection's cache, reads only the events after the seq it
covers (the reader bisects to it), folds them in one pass shared by every projection
(each payload view is decoded once), and writes the caches back when at least
`SAVE_AFTER` events were folded. Asked for a past state (``at``), it folds up to that
seq, from a cache only if the cache is not newer, and writes nothing.

A cache that fails in use (a record's checksum) raises `CacheCorrupt` inside the
library; `load_views` and `query` then replay the log from the start, so a bad
cache never costs more than a rebuild and never surfaces as an error.
"""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

import msgspec

from journal.errors import JournalError
from journal.storage.events import Event, typed_decoder
from journal.storage.reader import Reader
from projections.folds.agents import AGENTS
from projections.folds.archive import ARCHIVE
from projections.base import Projection, State
from projections.cache import cache_path, load_cache, save_cache
from projections.errors import CacheCorrupt
from projections.folds.resumes import RESUMES
from projections.folds.sessions import SESSIONS
from projections.views import RAW_TYPES, VIEW_TYPES, decode_view, decoder_for

if TYPE_CHECKING:
    from journal import Journal

__all__ = ["PROJECTIONS", "SAVE_AFTER", "Views", "fold_events", "load_views", "query", "rebuild"]

#: Every cached projection, in fold order.
PROJECTIONS: tuple[Projection, ...] = (SESSIONS, AGENTS, ARCHIVE, RESUMES)
#: Write a cache back only when at least this many new events were folded into it.
SAVE_AFTER = 1000
_PROGRESS_EVERY = 50_000
_ENC = msgspec.msgpack.Encoder()

T = TypeVar("T")


@dataclass
class Views:
    """The states of every projection at one seq of one journal."""

    states: dict[str, State]
    seq: int
    journal_id: str = ""
    epoch: int = 0
    #: Events folded to produce these states (0 on a fully warm cache).
    folded: int = 0
    #: The seq each projection's cache covered when loaded (0 without a usable cache).
    cached: dict[str, int] = field(default_factory=dict)
    journal: Journal | None = None
    #: What was wrong with each damaged cache file (the file and the field); it was replayed instead.
    damaged: dict[str, str] = field(default_factory=dict)

    @property
    def sessions(self) -> State:
        return self.states["sessions"]

    @property
    def agents(self) -> State:
        return self.states["agents"]

    @property
    def archive(self) -> State:
        return self.states["archive"]

    @property
    def resumes(self) -> State:
        return self.states["resumes"]


def _table(pairs: list[tuple[Projection, State]]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    types: set[str] = set()
    for projection, _ in pairs:
        types.update(projection.handlers)
    table: dict[str, Any] = {}
    for type_ in types:
        handlers = tuple((h, s) for p, s in pairs if (h := p.handler(type_)) is not None)
        view_type = VIEW_TYPES.get(type_)
        table[type_] = (decoder_for(view_type).decode if view_type else None, view_type, handlers)
    default = tuple((p.default, s) for p, s in pairs if p.default is not None)
    return table, default


def _counting(events: Iterable[Event], progress: Callable[[int], None]) -> Iterator[Event]:
    n = 0
    for event in events:
        yield event
        n += 1
        if n == _PROGRESS_EVERY:
            progress(n)
            n = 0
    if n:
        progress(n)


def fold_events(
    pairs: list[tuple[Projection, State]],
    events: Iterable[Event],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fold *events* into each ``(projection, state)`` pair in one pass; return the count.

    Each event is folded before the next one is drawn from *events* (a caller may
    watch the stream, as compaction's tracing does).
    """
    table, default = _table(pairs)
    if progress is not None:
        events = _counting(events, progress)
    return _fold_events(table, default, events)


def _fold_events(table: dict[str, Any], default: tuple[Any, ...], events: Iterable[Event]) -> int:
    """The hot loop of every rebuild: one dict lookup per event, one view decode shared
    by every projection that folds the type, then the handlers."""
    get = table.get
    n = 0
    for n, event in enumerate(events, 1):  # noqa: B007 - n is the count
        entry = get(event.type)
        if entry is None:
            for handler, state in default:
                handler(state, event, None)
            continue
        decode, view_type, handlers = entry
        if decode is None:
            view = None
        else:
            try:
                view = decode(event.data)
            except msgspec.DecodeError:
                view = decode_view(view_type, event.data)
        for handler, state in handlers:
            handler(state, event, view)
    return n


class _TypedLines:
    """The reader's decoder for a fold: each event and its view in one pass.

    `journal.storage.events.typed_decoder` over every view type (`VIEW_TYPES`, the others
    raw); msgspec cannot fall back on a type it was not given, so a chunk holding one
    is read as `Event`s and the type is learnt for the next chunks. Should chunks keep
    coming back as `Event`s for payloads the views do not take (handled per event by
    `decode_view`), it stops trying and the fold decodes views per event.
    """

    __slots__ = ("payloads", "decoder", "typed", "rejected")

    def __init__(self) -> None:
        self.payloads: dict[str, Any] = {**VIEW_TYPES, **dict.fromkeys(RAW_TYPES, msgspec.Raw)}
        self.decoder: msgspec.json.Decoder[Any] | None = _typed_decoder()
        self.typed = self.rejected = 0

    def decode_lines(self, buf: Any) -> list[Any]:
        if self.decoder is None:
            raise msgspec.DecodeError("typed decoding is off for this fold")
        return self.decoder.decode_lines(buf)

    def read_as_events(self, chunk: list[Event]) -> None:
        """*chunk* came as `Event`s: learn its new types, or count a payload the views refused."""
        if len(chunk) < 2 or self.decoder is None:
            return  # damage is read one event at a time: not the decoder's doing
        new = {event.type for event in chunk}.difference(self.payloads)
        if new and len(self.payloads) + len(new) <= _TYPES_LEARNT:
            self.payloads.update(dict.fromkeys(new, msgspec.Raw))
            self.decoder = typed_decoder(self.payloads)
            return
        self.rejected += 1
        if self.rejected > 8 and self.rejected * 10 > self.typed:
            self.decoder = None


#: At most this many event types in a typed decoder (a journal may hold any names).
_TYPES_LEARNT = 256


@functools.lru_cache(maxsize=1)
def _typed_decoder() -> msgspec.json.Decoder[Any]:
    return typed_decoder({**VIEW_TYPES, **dict.fromkeys(RAW_TYPES, msgspec.Raw)})


def _fold_range(
    pairs: list[tuple[Projection, State]],
    journal: Journal,
    first: int,
    last: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """`fold_events` of the events ``first..last``, read a chunk at a time, each event
    decoded with its view in the reader's single pass (`_TypedLines`)."""
    typed = _TypedLines()
    # Damage is reported to the journal's listener (the CLI warns once on stderr).
    chunks = Reader(journal.root, on_damage=getattr(journal, "on_damage", None)).chunks(first, last, decoder=typed)
    # The fold makes long-lived state and no reference cycles: a cyclic collection
    # during it finds nothing and, once the state is large, costs ~3% of a rebuild.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _fold_chunks(pairs, chunks, typed, progress)
    finally:
        if collecting:
            gc.enable()


def _pair_table(pairs: list[tuple[Projection, State]]) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """``first type -> (second type, steps)`` for the event pairs every projection folding
    either type can fold at once (`Projection.pairs`); a step is ``(pair, first, second,
    state)``, one per projection folding either type, each a callable (a missing handler
    is `_skip`), so the hot loop calls them without testing for None."""
    out: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for first, second in {key for p, _ in pairs for key in p.pairs}:
        steps = []
        for p, s in pairs:
            one, two = p.handler(first), p.handler(second)
            pair = p.pairs.get((first, second))
            if pair is None and (one is not None or two is not None):
                break  # this projection folds them one by one: no shortcut for the pair
            if one is not None or two is not None:  # the loop calls all three: no None
                steps.append((pair or _no_pair, one or _skip, two or _skip, s))
        else:
            # Views: both types must have one (the pair handlers read them), never None.
            if VIEW_TYPES.get(first) is not None and VIEW_TYPES.get(second) is not None:
                out[first] = (second, tuple(steps))
    return out


def _fold_chunks(
    pairs: list[tuple[Projection, State]],
    chunks: Iterable[list[Any]],
    typed: _TypedLines,
    progress: Callable[[int], None] | None,
) -> int:
    table, default = _table(pairs)
    twins = _pair_table(pairs)
    by_class: dict[type, tuple[bool, tuple[Any, ...], Any, str]] = {}

    def learn(event: Any) -> tuple[bool, tuple[Any, ...], Any, str]:
        """The dispatch entry of *event*'s class: view or not, handlers, pair, type."""
        name = event.type
        entry = table.get(name)
        has_view, handlers = (False, default) if entry is None else (entry[0] is not None, entry[2])
        found = by_class[type(event)] = has_view, handlers, twins.get(name), name
        return found

    n = unreported = 0
    for chunk in chunks:
        if chunk[0].__class__ is Event:
            _fold_events(table, default, chunk)
            typed.read_as_events(chunk)
        else:
            typed.typed += 1
            _fold_typed(chunk, by_class, learn)
        n += len(chunk)
        if progress is not None:
            unreported += len(chunk)
            if unreported >= _PROGRESS_EVERY:
                progress(unreported)
                unreported = 0
    if progress is not None and unreported:
        progress(unreported)
    return n


def _fold_typed(chunk: list[Any], by_class: dict[type, Any], learn: Callable[[Any], Any]) -> None:
    """Fold one chunk of typed events, dispatched on their class (one per event type and
    decoder: a dict lookup on `type(event)` spares the class attribute read of ``event.type``).

    An event that may start a pair (`Projection.pairs`: a tool call's PreToolUse, then its
    PostToolUse, 70% of a busy log) waits for the next one; a pair handler folds both at
    once, or says no and the two handlers run as usual.
    """
    held: Any = None
    second = ""
    steps: tuple[Any, ...] = ()
    for event in chunk:
        try:
            has_view, handlers, twin, name = by_class[type(event)]
        except KeyError:
            has_view, handlers, twin, name = learn(event)
        if held is not None:
            if name == second:
                one = held.data
                two = event.data
                for pair, h1, h2, state in steps:
                    if not pair(state, held, one, event, two):
                        h1(state, held, one)
                        h2(state, event, two)
                held = None
                continue
            _fold_one(held, by_class[type(held)])
            held = None
        if twin is not None:
            held = event
            second, steps = twin
            continue
        if has_view:
            view = event.data
            for handler, state in handlers:
                handler(state, event, view)
        else:
            for handler, state in handlers:
                handler(state, event, None)
    if held is not None:
        _fold_one(held, by_class[type(held)])


def _fold_one(event: Any, entry: tuple[bool, tuple[Any, ...], Any, str]) -> None:
    """Fold one typed *event* with its `_fold_typed` dispatch entry."""
    view = event.data if entry[0] else None
    for handler, state in entry[1]:
        handler(state, event, view)


def _no_pair(state: State, first: Any, one: Any, second: Any, two: Any) -> bool:
    return False


def _skip(state: State, event: Any, view: Any) -> None:
    pass


def _load(
    journal: Journal,
    at: int | None,
    use_cache: bool,
    save: bool,
    progress: Callable[[int], None] | None,
    projections: tuple[Projection, ...],
) -> Views:
    manifest = journal.manifest()
    journal_id, epoch = manifest.journal_id, manifest.epoch
    last = journal.last_seq()
    target = last if at is None else max(0, min(at, last))
    states: dict[str, State] = {}
    covered: dict[str, int] = {}
    damaged: dict[str, str] = {}
    for projection in projections:
        loaded = None
        if use_cache:
            loaded = load_cache(journal.root, projection, journal_id=journal_id, epoch=epoch,
                                on_damage=functools.partial(damaged.__setitem__, projection.name))
        if loaded is not None and loaded[0] <= target:
            covered[projection.name], states[projection.name] = loaded
        else:
            covered[projection.name], states[projection.name] = 0, projection.initial()
    cached = dict(covered)
    folded = 0
    # Bring lagging projections up to the next one's seq, then fold everything together.
    marks = sorted(set(covered.values()))
    for i, mark in enumerate(marks):
        upto = marks[i + 1] if i + 1 < len(marks) else target
        if upto <= mark:
            continue
        pairs = [(p, states[p.name]) for p in projections if covered[p.name] <= mark]
        folded += _fold_range(pairs, journal, mark + 1, upto, progress)
    for name, why in damaged.items():  # replayed instead; say where and what, once per damaged file
        journal.log_error("cache_damaged", f"the {name} cache was replayed from the log: {why}")
    views = Views(states, target, journal_id, epoch, folded, cached, journal, damaged)
    # A compaction or scrub that committed meanwhile made these states stale (a scrub's may
    # even hold the text it removed): only a cache of the current epoch is written.
    if save and at is None and target > 0 and journal.manifest().epoch == epoch:
        for projection in projections:
            fresh = target - cached[projection.name]
            if fresh >= SAVE_AFTER or (cached[projection.name] == 0 and fresh > 0):
                try:
                    save_cache(journal.root, projection, states[projection.name],
                               journal_id=journal_id, epoch=epoch, seq=target)
                except (OSError, JournalError) as e:  # a read-only journal still reads; note why it is slower
                    journal.log_error("cache_write_failed", f"cannot write the {projection.name} cache: {e}")
    return views


def load_views(
    journal: Journal,
    *,
    at: int | None = None,
    use_cache: bool = True,
    save: bool = True,
    progress: Callable[[int], None] | None = None,
    projections: tuple[Projection, ...] = PROJECTIONS,
) -> Views:
    """Every projection's state at seq *at* (default: the end of the log)."""
    try:
        return _load(journal, at, use_cache, save, progress, projections)
    except CacheCorrupt:
        return _load(journal, at, False, save, progress, projections)


def query(journal: Journal, fn: Callable[[Views], T], *, at: int | None = None, **options: Any) -> T:
    """``fn(views)``, replayed from the log if a cache turns out damaged while *fn* reads it."""
    views = load_views(journal, at=at, **options)
    try:
        return fn(views)
    except CacheCorrupt:
        options["use_cache"] = False
        return fn(load_views(journal, at=at, **options))


def rebuild(journal: Journal, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Recompute every projection from the log, compare with the caches, and rewrite them.

    Returns ``{"seq", "events", "projections": {name: {"records", "cached_seq", "agreed", "why"}}}``:
    ``agreed`` is True when cache + incremental fold gave exactly the full replay,
    False when it did not (or the cache was damaged), None when there was no cache;
    ``why`` says what differed (`_difference`).
    """
    warm: Views | None = None
    damaged = False
    if _has_caches(journal):
        try:
            warm = _load(journal, None, True, False, None, PROJECTIONS)
        except CacheCorrupt:
            damaged = True
    full = load_views(journal, at=warm.seq if warm else None, use_cache=False, save=False, progress=progress)
    report: dict[str, Any] = {}
    for projection in PROJECTIONS:
        name = projection.name
        cached_seq = warm.cached.get(name, 0) if warm else 0
        agreed: bool | None = False if damaged else None
        why = "the cache files could not be read (damaged)" if damaged else ""
        if warm is not None and name in warm.damaged:
            agreed, why = False, f"the cache is damaged: {warm.damaged[name]}"
        elif warm is not None and cached_seq > 0:
            try:
                why = _difference(warm.states[name], full.states[name])
            except CacheCorrupt as e:
                why = f"the cache is damaged: {e}"
            agreed = not why
        report[name] = {"records": len(full.states[name].records), "cached_seq": cached_seq, "agreed": agreed,
                        "why": why or None}
        if full.seq > 0:
            save_cache(journal.root, projection, full.states[name],
                       journal_id=full.journal_id, epoch=full.epoch, seq=full.seq)
    return {"seq": full.seq, "events": full.folded, "projections": report}


def _has_caches(journal: Journal) -> bool:
    return any(cache_path(journal.root, p).exists() for p in PROJECTIONS)


def _difference(cached: State, full: State) -> str:
    """What differs between the cached state and the full replay ("" when nothing does)."""
    keys_a, blobs_a, _ = cached.records.blobs()
    keys_b, blobs_b, _ = full.records.blobs()
    extra, missing = sorted(set(keys_a) - set(keys_b)), sorted(set(keys_b) - set(keys_a))
    parts = []
    if missing:
        parts.append(f"{len(missing)} records missing from the cache (e.g. {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} records only in the cache (e.g. {extra[0]})")
    if parts:
        return "; ".join(parts)
    changed = [k for k, x, y in zip(keys_a, blobs_a, blobs_b, strict=False) if bytes(x) != bytes(y)]
    if len(keys_a) != len(keys_b) or (not changed and keys_a != keys_b):
        return "the same records in another order"
    if changed:
        by_key = dict(zip(keys_b, blobs_b, strict=True))
        changed = [k for k, x in zip(keys_a, blobs_a, strict=True) if bytes(x) != bytes(by_key[k])]
        if changed:
            return f"{len(changed)} records differ (e.g. {changed[0]})"
        return "the same records in another order"
    if _ENC.encode(cached.meta) != _ENC.encode(full.meta):
        return "its summary (meta) differs from the full replay's"
    return ""


def _same(a: State, b: State) -> bool:
    """Equal states, record order included, compared by their canonical msgpack bytes.

    A cached record is compared as stored (without decoding it), so a damaged one
    simply differs.
    """
    if _ENC.encode(a.meta) != _ENC.encode(b.meta):
        return False
    keys_a, blobs_a, _ = a.records.blobs()
    keys_b, blobs_b, _ = b.records.blobs()
    return keys_a == keys_b and all(bytes(x) == bytes(y) for x, y in zip(blobs_a, blobs_b, strict=True))
