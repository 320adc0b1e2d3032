"""``errors.log``: one redacted JSON line per internal error or repair, for every layer above.

Hooks, the writer, compaction, shipping and the CLI report here what they cannot
raise (a hook must exit 0). Every line is redacted with the journal's rules first
(`journal.privacy.redaction`): error messages quote exceptions, and those quote
payloads. Stdlib only: the hook imports it.
"""

from __future__ import annotations

import os

from journal.cjson import dumps, loads
from journal.layout import ERROR_LOG, check_dir, open_private
from journal.storage.codec import now_ts

TYPE_CHECKING = False  # no typing at run time: this module is on the hook's hot path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["log_error"]


def log_error(root: str | os.PathLike[str], kind: str, message: str, **fields: Any) -> None:
    """Append one line to the journal's error log; never raises (it is the last resort)."""
    entry = {"ts": now_ts(), "pid": os.getpid(), "kind": kind, "message": message, **fields}
    try:
        check_dir(os.fspath(root))  # never write through a linked journal directory, nor into another user's
        entry = _redacted_entry(root, entry)
        line = dumps(entry, default=str, ensure_ascii=True).encode() + b"\n"
        fd = open_private(os.path.join(root, ERROR_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except Exception:
        pass


def _redacted_entry(root: str | os.PathLike[str], entry: dict[str, Any]) -> dict[str, Any]:
    """*entry* with secrets redacted (messages quote exceptions, and those quote payloads).

    The journal's own rules if its config is usable, else the built-in ones; if not even
    those run, every text field is withheld (fail closed, as for events).
    """
    try:
        from journal.privacy.redaction import Redactor

        try:
            from journal.config import load_config

            redactor = Redactor.from_config(dict(load_config(root).extra))
        except Exception:  # a broken config is often what is being logged
            redactor = Redactor()
        plain = loads(dumps(entry, default=str))  # Paths, reports: as they will be written
        return redactor.redact(plain)[0]  # type: ignore[no-any-return]
    except Exception:
        keep = ("ts", "pid", "kind")
        return {k: (v if k in keep or not isinstance(v, (str, dict, list)) else "[withheld: redaction unavailable]")
                for k, v in entry.items()}
