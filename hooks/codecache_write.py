"""Writing the hook's code cache (`hooks.codecache`): only on a firing that imported a
module the file lacks, so kept out of the module every hook imports."""

from __future__ import annotations

import marshal
import os
import sys

from hooks.codecache import _EXTENSION, _HEAD, _MAGIC, _PACKAGE, _PY, CodeCache, _external, _Loader, _origin, _roots

__all__ = ["write"]


def write(finder: CodeCache) -> bool:
    """Write *finder*'s file: what this process imported, and the other still fresh entries
    (True if written). Never raises: a cache it could not write is only slower next time."""
    try:
        return _write_cache(finder)
    except Exception:  # noqa: BLE001 - only a cache
        return False


def _writable(path: str) -> bool:
    """Whether the file *path* can be written (its directory, or the nearest existing parent
    the directories would be made in, is writable): checked before the cache is built, so
    that a read-only install does not build it on every firing for nothing."""
    directory = os.path.dirname(path)
    while not os.path.isdir(directory):
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent
    return os.access(directory, os.W_OK | os.X_OK)


def _write_cache(finder: CodeCache) -> bool:
    targets = [path for path in finder.paths if _writable(path)]
    if not targets:
        return False
    roots = _roots(finder.code_root)
    found: dict[str, tuple] = {}  # type: ignore[type-arg]  # name -> (kind, origin, mtime, size, cached, code)
    for name, module in list(sys.modules.items()):
        loader = getattr(getattr(module, "__spec__", None), "loader", None)
        if isinstance(loader, _Loader) and not loader.damaged and name in finder.index:
            found[name] = (*finder.index[name][:5], loader.code_bytes())
        elif (entry := _entry(module, roots)) is not None:
            found[name] = entry
    for name, entry in finder.index.items():  # what other hook types import
        if name not in found and _fresh(entry):
            kind, origin, mtime, size, cached, offset, length = entry
            code = os.pread(finder.fd, length, finder.base + offset) if length else b""
            if len(code) == length:
                found[name] = (kind, origin, mtime, size, cached, code)
    index, blobs, offset = {}, [], 0
    for name, (kind, origin, mtime, size, cached, code) in found.items():
        index[name] = (kind, origin, mtime, size, cached, offset, len(code))
        blobs.append(code)
        offset += len(code)
    head = marshal.dumps((_MAGIC, index))
    data = b"".join([len(head).to_bytes(_HEAD, "little"), head, *blobs])
    for path in targets:
        try:
            _write(path, data)
            return True
        except OSError:
            continue
    return False


def _entry(module: object, roots: tuple[tuple[str, ...], str]) -> tuple | None:  # type: ignore[type-arg]
    """*module* (imported the usual way) as ``(kind, origin, mtime, size, cached, code)``; None
    if the cache may not hold it."""
    origin = _origin(module, roots)
    if origin is None:
        return None
    spec = module.__spec__  # type: ignore[attr-defined]
    loader = spec.loader
    try:
        st = os.stat(origin)
        if isinstance(loader, _external.ExtensionFileLoader):
            return (_EXTENSION, origin, st.st_mtime_ns, st.st_size, None, b"")
        if not isinstance(loader, _external.SourceFileLoader):
            return None
        code = marshal.dumps(loader.get_code(spec.name))  # the .pyc, or the source compiled
    except (OSError, SyntaxError, ImportError, ValueError):
        return None
    kind = _PACKAGE if spec.submodule_search_locations is not None else _PY
    return (kind, origin, st.st_mtime_ns, st.st_size, spec.cached, code)


def _fresh(entry: tuple) -> bool:  # type: ignore[type-arg]
    try:
        st = os.stat(entry[1])
    except OSError:
        return False
    return bool(st.st_mtime_ns == entry[2] and st.st_size == entry[3])


def _write(path: str, data: bytes) -> None:
    """Replace *path* atomically (a reader sees the old file or the new one, never half);
    not durable: a cache lost to a power cut is only rebuilt."""
    from journal.layout import write_atomic

    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700, exist_ok=True)
    write_atomic(path, data, durable=False, mode=0o644)
