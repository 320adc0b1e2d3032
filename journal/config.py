"""Journal settings and where they come from.

Precedence, stated once: defaults < the journal's ``config.json`` < ``AGENT_JOURNAL_*``
environment variables < explicit keyword overrides. The sections of other layers
(``redaction``, ``retention``, ...) are kept in `JournalConfig.extra` for the layers
that own them, which check their values.

Every key of the file is checked against `SCHEMA` first: an unknown key or section,
or a value of the wrong type, is a `ConfigError` naming the key and the nearest known
one (``"durabilty": did you mean "durability"?``), so a misspelt ``redaction``
section can never silently drop the user's patterns. Stdlib only: this is imported on
the hook's hot path.
"""

from __future__ import annotations

import os

from journal.errors import ConfigError
from journal.layout import read_private
from journal.cjson import dumps, loads

TYPE_CHECKING = False  # typing is not imported at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from typing import Any, Mapping

__all__ = ["JournalConfig", "DURABILITY_MODES", "load_config", "check_document", "check_write_dir", "CONFIG_FILE",
           "SCHEMA"]

CONFIG_FILE = "config.json"
DURABILITY_MODES = ("fsync", "flush")
MiB = 1024 * 1024


class JournalConfig:
    """Settings of one journal; see the module docstring for precedence.

    A plain class rather than a dataclass: ``import dataclasses`` costs a hook
    several milliseconds (it imports inspect). Instances are not meant to change.
    """

    __slots__ = ("segment_bytes", "durability", "max_record_bytes", "lock_timeout", "extra")

    def __init__(
        self,
        segment_bytes: int = 64 * MiB,
        durability: str = "fsync",
        max_record_bytes: int = 1 * MiB,
        lock_timeout: float = 10.0,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        #: The active segment is sealed once it reaches this many bytes.
        self.segment_bytes = segment_bytes
        #: ``fsync``: every append is on stable storage before it returns (survives power loss).
        #: ``flush``: appends reach the OS page cache (survives a killed process, not power loss).
        self.durability = durability
        #: The largest single record; a record is one ``os.write`` and huge writes can tear on SIGKILL.
        self.max_record_bytes = max_record_bytes
        #: Seconds to wait for the append lock before giving up (or spooling, for hooks).
        self.lock_timeout = lock_timeout
        #: Unknown sections of config.json, passed through to the layers that own them.
        self.extra: Mapping[str, Any] = {} if extra is None else extra
        self._check()

    def _check(self) -> None:
        if self.durability not in DURABILITY_MODES:
            raise ConfigError(
                f"durability must be one of {', '.join(DURABILITY_MODES)}, got {self.durability!r}"
            )
        if not isinstance(self.segment_bytes, int) or self.segment_bytes < 4096:
            raise ConfigError(f"segment_bytes must be an integer >= 4096, got {self.segment_bytes!r}")
        if not isinstance(self.max_record_bytes, int) or not 1024 <= self.max_record_bytes <= 64 * MiB:
            raise ConfigError(
                f"max_record_bytes must be an integer between 1024 and {64 * MiB}, got {self.max_record_bytes!r}"
            )
        # "not >= 0" also rejects NaN, with which a busy lock would be waited for forever.
        if not isinstance(self.lock_timeout, (int, float)) or not self.lock_timeout >= 0:
            raise ConfigError(f"lock_timeout must be a number of seconds >= 0, got {self.lock_timeout!r}")

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JournalConfig) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # extra is a mapping

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"JournalConfig({inner})"


_KEYS = {"segment_bytes": int, "durability": str, "max_record_bytes": int, "lock_timeout": float}

_NUMBER = (int, float)
#: Every key config.json may hold: the engine's settings (checked by `_coerce`) and each
#: section's keys with the JSON types their values may have (the owning layer checks
#: the values themselves). A key added anywhere must be added here, or it is refused.
SCHEMA: dict[str, Any] = {
    "durability": str,
    "segment_bytes": int,
    "max_record_bytes": int,
    "lock_timeout": _NUMBER,
    "redaction": {"patterns": list, "allow": list, "salt": str},
    "limits": {"max_string": int, "max_event": int},
    "context": {"max_chars": int, "old_crash_after": (str, int, float), "write_dir": str},
    "projections": {"stale_after": _NUMBER},
    "retention": {"older_than": (str, int, float), "max_bytes": (int, type(None)), "auto": bool,
                  "every": (str, int, float), "archive": bool},
    "ship": {"url": str, "auto": bool, "every": (str, int, float), "batch": int},
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "an object", type(None): "null"}


def _nearest(key: str, known: Any, prefix: str = "") -> str:
    import difflib  # only on this error path: it costs a hook milliseconds to import

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f'"{prefix}{key}": did you mean "{prefix}{close[0]}"?'
    return f'"{prefix}{key}" is not a setting (known: {", ".join(prefix + k for k in known)})'


def _type_ok(value: Any, kinds: Any) -> bool:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds) and not (isinstance(value, float) and int in kinds and float not in kinds)


def _describe(kinds: Any) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if kinds == (int, float):
        return "a number"
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def check_write_dir(value: str) -> str | None:
    """What is wrong with ``context.write_dir`` (None: nothing). It names a directory inside
    the project, relative to it: the file can come from a cloned repository, so an absolute
    path, ``~`` or a ``..`` that could leave the project is refused here, and a symbolic
    link on the way is refused where the files are written (`projections.read.memory_files`)."""
    shown = dumps(value)[:60]
    if not value.strip() or "\0" in value:
        return f'"context.write_dir" must name a directory inside the project, got {shown}'
    if value.startswith(("/", "~")):
        return (f'"context.write_dir" must be relative to the project directory (e.g. ".claude/memory"), '
                f"got {shown}")
    if ".." in value.split("/"):
        return f'"context.write_dir" must not leave the project directory (".."), got {shown}'
    return None


_VALUE_CHECKS = {("context", "write_dir"): check_write_dir}


def check_document(doc: Mapping[str, Any]) -> list[str]:
    """Problems with the keys and value types of a config.json object, one line each
    (empty for a sound one). Values of the engine's own settings are checked by `load_config`."""
    problems = []
    for key, value in doc.items():
        spec = SCHEMA.get(key)
        if spec is None:
            problems.append(_nearest(str(key), SCHEMA))
        elif isinstance(spec, dict):
            if not isinstance(value, dict):
                problems.append(f'"{key}" must be an object, got {dumps(value)[:60]}')
                continue
            for sub, subvalue in value.items():
                kinds = spec.get(sub)
                if kinds is None:
                    problems.append(_nearest(str(sub), spec, f"{key}."))
                elif not _type_ok(subvalue, kinds):
                    problems.append(f'"{key}.{sub}" must be {_describe(kinds)}, got {dumps(subvalue)[:60]}')
                elif (key, sub) in _VALUE_CHECKS:
                    problem = _VALUE_CHECKS[key, sub](subvalue)
                    if problem:
                        problems.append(problem)
    return problems


def _coerce(key: str, value: Any, origin: str) -> Any:
    kind = _KEYS[key]
    if isinstance(value, bool):  # JSON true/false are ints to Python, never a setting here
        raise ConfigError(f"{origin}: {key} must be a {'string' if kind is str else 'number'}, got {value!r}")
    try:
        if kind is int and isinstance(value, str):
            return int(value)
        if kind is float and isinstance(value, (str, int)):
            return float(value)
    except ValueError as e:
        raise ConfigError(f"{origin}: {key} must be a number, got {value!r}") from e
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError(f"{origin}: {key} must be an integer, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{origin}: {key} must be a string, got {value!r}")
    return value


def load_config(
    root: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> JournalConfig:
    """Build the config of the journal at *root* from its file, the environment and overrides."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}  # where each value came from, for error messages
    extra: dict[str, Any] = {}
    if root is not None:
        path = os.path.join(root, CONFIG_FILE)
        try:
            raw = read_private(path)
        except FileNotFoundError:
            raw = b""
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror}") from e
        if raw.strip():
            try:
                doc = loads(raw)
            except ValueError as e:
                raise ConfigError(f"{path} is not valid JSON: {e}") from e
            if not isinstance(doc, dict):
                raise ConfigError(f"{path} must hold a JSON object")
            problems = check_document(doc)
            if problems:
                raise ConfigError(f"{path}: " + "; ".join(problems))
            for key, value in doc.items():
                if key in _KEYS:
                    values[key] = _coerce(key, value, str(path))
                    origins[key] = str(path)
                else:
                    extra[key] = value
    env = os.environ if environ is None else environ
    for key in _KEYS:
        name = "AGENT_JOURNAL_" + key.upper()
        if env.get(name):
            values[key] = _coerce(key, env[name], name)
            origins[key] = name
    for key, value in overrides.items():
        if key not in _KEYS:
            raise ConfigError(f"unknown journal setting {key!r}")
        if value is not None:
            values[key] = _coerce(key, value, key)
            origins[key] = "override"
    for key, value in values.items():
        # A value out of range is reported with where it came from (file, variable, override).
        try:
            JournalConfig(**{key: value})
        except ConfigError as e:
            raise ConfigError(f"{origins[key]}: {e}") from None
    return JournalConfig(**values, extra=extra)
