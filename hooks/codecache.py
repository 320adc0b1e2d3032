"""One file holding the compiled modules of the hook's path, opened once per firing.

Importing a module the usual way costs a hook ~0.1 ms besides unmarshalling and running
its bytecode: the path finder stats directories and candidate file names, then opens,
checks and reads one ``.pyc``; the record path imports ~30 modules. `install` opens
``hooks/__pycache__/hookpath.<cache tag>.bin`` and puts a finder first on
``sys.meta_path`` that serves the modules it indexes: one ``stat`` of the source (its
mtime and size must not have changed) and one ``pread`` of the marshalled code each. A
module it does not index, or whose source changed, is imported as usual, and
`hooks.codecache_write` then writes the file again at the end of that firing with every module this process
imported from this code root or the standard library (never site-packages); modules
that only other hook types import stay in it while their source is unchanged. When
``hooks/__pycache__`` cannot be written (a read-only install) the file goes to
``$CLAUDE_PLUGIN_DATA/pycache/`` instead.

The file: 8 bytes giving the length of the index, the index (`marshal`: the bytecode
magic number and, per module, its kind, source, mtime, size, ``__cached__`` and where its
code lies in the file), then the code. It is a cache: a missing, unreadable or foreign
file (another Python's bytecode) is ignored and replaced, never an error. Stdlib only and
no ``__future__`` or typing import: this module loads before the finder exists.
"""

import marshal
import os
import sys

TYPE_CHECKING = False  # no typing at run time: this is the first module every hook imports
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["install", "installed", "cache_paths", "CodeCache"]

_bootstrap = sys.modules["_frozen_importlib"]
_external = sys.modules["_frozen_importlib_external"]
#: Changes when the bytecode format does (a Python upgrade): an older file is ignored.
_MAGIC = _external.MAGIC_NUMBER
_PY, _PACKAGE, _EXTENSION = 0, 1, 2
_HEAD = 8
#: Read at once when the file is opened: the index (~10 KB) and usually no more.
_FIRST_READ = 64 * 1024


def cache_paths(code_root: str, environ: "dict[str, str] | os._Environ[str] | None" = None) -> list[str]:
    """Where the file may be: beside the ``.pyc`` files of ``hooks/``, else (read-only
    code) in the plugin's data directory, one file per code root."""
    env = os.environ if environ is None else environ
    name = f"hookpath.{sys.implementation.cache_tag}.bin"
    paths = [os.path.join(code_root, "hooks", "__pycache__", name)]
    data = env.get("CLAUDE_PLUGIN_DATA")
    if data:
        paths.append(os.path.join(data, "pycache", f"{_fnv1a(os.fsencode(code_root)):016x}.{name}"))
    return paths


def _fnv1a(data: bytes) -> int:
    """A 64-bit FNV-1a hash (zlib is not loaded yet when this runs)."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


_CODE = type(_fnv1a.__code__)


class _Loader:
    """Runs one module's code, read from the cache file (or, if that part of the file is
    damaged, compiled from its source as the usual import would)."""

    def __init__(self, finder: "CodeCache", offset: int, length: int) -> None:
        self.finder, self.offset, self.length = finder, offset, length  # offset: from the start of the file
        self.damaged = False

    def create_module(self, spec: object) -> None:
        return None  # the default module object

    def exec_module(self, module: object) -> None:
        try:
            code = marshal.loads(self.code_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            code = None
        if type(code) is not _CODE:
            self.finder.stale = self.damaged = True
            spec = module.__spec__  # type: ignore[attr-defined]
            code = _external.SourceFileLoader(spec.name, spec.origin).get_code(spec.name)
        exec(code, module.__dict__)  # noqa: S102 - our own module's code

    def code_bytes(self) -> bytes:
        return os.pread(self.finder.fd, self.length, self.offset)


class CodeCache:
    """The finder `install` puts first on ``sys.meta_path``."""

    def __init__(self, code_root: str, paths: list[str], fd: int = -1, index: "dict[str, tuple] | None" = None,  # type: ignore[type-arg]
                 base: int = 0, size: int = 0) -> None:
        self.code_root = code_root
        self.paths = paths
        self.fd = fd
        self.index = index or {}
        #: Where the code begins in the file (the index gives offsets from there), and where it ends.
        self.base, self.size = base, size
        #: Names asked for that the file did not serve (not in it, or their source changed).
        self.missed: list[str] = []
        self.stale = index is None

    def find_spec(self, name: str, path: "Sequence[str] | None" = None,
                  target: "ModuleType | None" = None) -> "ModuleSpec | None":
        entry = self.index.get(name)
        if entry is None:
            self.missed.append(name)
            return None
        kind, origin, mtime, size, cached, offset, length = entry
        try:
            st = os.stat(origin)
        except OSError:
            st = None
        if st is None or st.st_mtime_ns != mtime or st.st_size != size or self.base + offset + length > self.size:
            self.stale = True  # the source changed, or the file was cut short
            return None
        if kind == _EXTENSION:
            loader: object = _external.ExtensionFileLoader(name, origin)
        else:
            loader = _Loader(self, self.base + offset, length)
        spec: ModuleSpec = _bootstrap.ModuleSpec(name, loader, origin=origin, is_package=kind == _PACKAGE)
        spec.has_location = True
        spec.cached = cached
        if kind == _PACKAGE:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def needs_saving(self) -> bool:
        """True if this process imported, the usual way, a module the file should index."""
        if self.stale:
            return True
        roots = _roots(self.code_root)
        modules = sys.modules
        return any(_origin(modules.get(name), roots) is not None for name in self.missed)

def _roots(code_root: str) -> tuple[tuple[str, ...], str]:
    """Where cached modules may come from (this code root's ``hooks`` and ``journal``, the
    standard library), and where under them not (site-packages: third-party code)."""
    stdlib = os.path.join(os.path.dirname(os.__file__), "")
    ours = (os.path.join(code_root, "hooks", ""), os.path.join(code_root, "journal", ""))
    return (*ours, stdlib), os.path.join(stdlib, "site-packages", "")


def _origin(module: object, roots: tuple[tuple[str, ...], str]) -> str | None:
    """The file *module* was imported from, if the cache may hold it (else None)."""
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if not isinstance(origin, str) or not origin.startswith(roots[0]):
        return None
    if origin.startswith(roots[1]) and not origin.startswith(roots[0][:2]):
        return None  # a third-party package (a render hook put site-packages on sys.path)
    return origin


def _open(path: str) -> "tuple[int, dict[str, tuple], int, int] | None":  # type: ignore[type-arg]
    """The open file, its index, where its code begins and the file's size; None if it is
    missing or not a cache of this Python."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, _FIRST_READ)
        total = os.fstat(fd).st_size
        size = int.from_bytes(data[:_HEAD], "little")
        if len(data) < _HEAD or _HEAD + size > total:
            raise ValueError("not a code cache")
        if _HEAD + size > len(data):
            data += os.pread(fd, _HEAD + size - len(data), len(data))
        magic, index = marshal.loads(data[_HEAD:_HEAD + size])
        if magic == _MAGIC and isinstance(index, dict):
            return fd, index, _HEAD + size, total
    except (OSError, ValueError, EOFError, TypeError):
        pass
    os.close(fd)
    return None


def install(code_root: str) -> CodeCache | None:
    """Serve the hook's modules from the cache file of *code_root* (the directory holding
    ``hooks/`` and ``journal/``); returns the finder (None with ``-B``: no caches)."""
    if sys.flags.dont_write_bytecode or sys.implementation.cache_tag is None or not hasattr(os, "pread"):
        return None  # -B (no caches wanted), no bytecode caching at all, or no pread (Windows)
    paths = cache_paths(code_root)
    opened = None
    for path in paths:
        opened = _open(path)
        if opened is not None:
            break
    finder = CodeCache(code_root, paths, *opened) if opened else CodeCache(code_root, paths)
    sys.meta_path.insert(0, finder)
    return finder


def installed() -> CodeCache | None:
    """The finder `install` put on ``sys.meta_path`` (None if there is none)."""
    for finder in sys.meta_path:
        if isinstance(finder, CodeCache):
            return finder
    return None
