"""Which interpreter can render context (one with msgspec): `render_python`.

Recording an event needs only the stdlib; rendering the SessionStart context and the
PreCompact capture, and the CLI that SessionEnd starts detached (compaction, search
index, shipping), need msgspec. `render_python` looks, in order:

1. ``$AGENT_JOURNAL_PYTHON``, when set (an explicit choice wins);
2. the plugin's private virtual environment, ``$CLAUDE_PLUGIN_DATA/venv``, once ready;
3. the interpreter behind an ``agent-journal`` command on ``PATH``.

(The running interpreter, a pip/pipx/uv install, is tried by `hooks.main` first.) Kept
apart from `hooks.runtime`, which creates that environment, so that SessionEnd imports
only this. Stdlib only.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # no typing at run time: SessionEnd imports this
if TYPE_CHECKING:
    from typing import Mapping

__all__ = ["render_python", "VENV_DIR", "READY_MARKER", "DATA_ENV"]

VENV_DIR = "venv"
READY_MARKER = ".agent-journal-ready"
#: Exported into the Bash tool's environment by SessionStart (see `hooks.runtime.env_file_text`).
DATA_ENV = "AGENT_JOURNAL_PLUGIN_DATA"


def _read_text(path: str | os.PathLike[str]) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _lock_contents(code_root: str | os.PathLike[str]) -> str:
    try:
        return _read_text(os.path.join(code_root, "hooks", "requirements.lock"))
    except OSError:
        return ""


def _venv_python_path(venv: str) -> str:
    return os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" else os.path.join(venv, "bin", "python")


def _which(command: str, path: str | None) -> str | None:
    """``shutil.which`` for a plain name, without importing shutil."""
    for directory in (path if path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or os.curdir, command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _shebang_python(command: str) -> str | None:
    try:
        with open(command, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode("utf-8", "replace").split()
    if parts and os.path.isabs(parts[0]) and "python" in os.path.basename(parts[0]) and os.path.exists(parts[0]):
        return parts[0]
    return None


def _ready(code_root: str | os.PathLike[str], data: str | os.PathLike[str]) -> bool:
    try:
        return _read_text(os.path.join(data, VENV_DIR, READY_MARKER)) == _lock_contents(code_root)
    except OSError:
        return False


def render_python(code_root: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> str | None:
    """An interpreter that can import msgspec (None if there is none yet)."""
    env = os.environ if environ is None else environ
    explicit = env.get("AGENT_JOURNAL_PYTHON")
    if explicit and os.path.exists(explicit):
        return explicit
    data = env.get("CLAUDE_PLUGIN_DATA") or env.get(DATA_ENV)
    if data and _ready(code_root, data):
        return _venv_python_path(os.path.join(data, VENV_DIR))
    command = _which("agent-journal", env.get("PATH"))
    if command:
        return _shebang_python(command)
    return None
