"""Finding (or making) a Python that can render context: one with msgspec.

Recording an event needs only the stdlib, so every hook records with whatever
``python3`` Claude Code finds. Rendering the SessionStart context and the PreCompact
capture needs msgspec; the launcher looks for it, in order:

1. ``$AGENT_JOURNAL_PYTHON``, when set (an explicit choice wins);
2. the running interpreter (an ``agent-journal`` install made with pip/pipx/uv);
3. the plugin's private virtual environment, ``$CLAUDE_PLUGIN_DATA/venv``;
4. the interpreter behind an ``agent-journal`` command on ``PATH``.

If none exists, the first hook that needs one starts a detached, one-at-a-time
(flock) creation of the private environment with the pinned dependencies in
``hooks/requirements.lock``, and renders nothing this time. The code always runs
from the plugin root, so a plugin update takes effect at once; the environment holds
only third-party packages. The hook later executes that environment, so it is made
private whatever the umask: its directories 0700, no file group- or world-writable
(another local user must not be able to plant code in it). Stdlib only.

Claude Code gives ``CLAUDE_PLUGIN_DATA`` to hooks but not to the Bash tool or to the
``!`` commands of slash commands, where ``bin/agent-journal`` runs. So SessionStart
appends `env_file_text` to ``$CLAUDE_ENV_FILE`` (Claude Code sources it into every Bash
command of the session): ``AGENT_JOURNAL_PLUGIN_DATA`` names the data directory and
``AGENT_JOURNAL_PROJECT_DIR`` the project whose journal the hooks write. Without them
(an older session, a plain shell) `plugin_data_dir` looks for the data directory under
``~/.claude/plugins/data`` itself.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:  # run as a script by `bootstrap_async` (python -I):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the code root

from hooks.interpreter import (  # noqa: E402 - after the code root is importable
    DATA_ENV,
    READY_MARKER,
    VENV_DIR,
    _lock_contents,
    _ready,
    render_python,
)

TYPE_CHECKING = False  # what the hooks call here (site_packages, remember_python) imports little
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping

__all__ = [
    "render_python", "bootstrap_async", "create_env", "plugin_data_dir", "env_file_text", "env_state",
    "wait_until_ready", "site_packages", "remember_python", "PYTHON_FILE", "VENV_DIR", "READY_MARKER", "DATA_ENV",
    "PROJECT_ENV",
]

#: The interpreter ``hooks/launch`` execs (one absolute path), written by the first hook.
PYTHON_FILE = "python"
_LOCK = "venv.lock"
#: Exported into the Bash tool's environment by SessionStart (see `env_file_text`).
PROJECT_ENV = "AGENT_JOURNAL_PROJECT_DIR"
#: Data directories of this plugin: ``<id>`` is the plugin id with odd characters made ``-``
#: ("agent-journal-agent-journal-marketplace", "agent-journal-inline" for --plugin-dir).
_DATA_GLOB = "agent-journal*"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def remember_python(data_dir: str, python: str) -> bool:
    """Write *python* to ``data_dir/python`` for ``hooks/launch`` (True if written).

    Not a script: an interpreter shim (pyenv's is a shell script) is what the file is
    there to skip. Written atomically and privately; a failure only means the next hook
    finds python3 through PATH again."""
    try:
        with open(python, "rb") as f:
            if f.read(2) == b"#!":
                return False
    except OSError:
        return False
    _private_dir(data_dir)
    tmp = os.path.join(data_dir, f".{PYTHON_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, (python + "\n").encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(data_dir, PYTHON_FILE))
    return True


def site_packages(python: str) -> str | None:
    """The site-packages of the virtual environment *python* belongs to, if its packages
    can be imported by this interpreter (the same Python version); else None.

    The hook renders in its own process with them on ``sys.path`` instead of starting
    that interpreter (`hooks.main`)."""
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
        return None
    if os.name == "nt":  # pragma: no cover
        found = os.path.join(venv, "Lib", "site-packages")
    else:
        found = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    return found if os.path.isdir(found) else None


def plugin_data_dir(code_root: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """The plugin's data directory: ``$CLAUDE_PLUGIN_DATA`` (hooks), ``$AGENT_JOURNAL_PLUGIN_DATA``
    (the Bash tool, via the env file), else one found under the Claude config directory
    (a ready one first); None when the plugin has never run a hook."""
    from pathlib import Path

    env = os.environ if environ is None else environ
    for key in ("CLAUDE_PLUGIN_DATA", DATA_ENV):
        if env.get(key):
            return Path(env[key])
    config = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else (
        Path(env["HOME"]) / ".claude" if env.get("HOME") else None)
    if config is None:
        return None
    try:
        found = sorted(p for p in (config / "plugins" / "data").glob(_DATA_GLOB) if p.is_dir())
    except OSError:
        return None
    ready = [p for p in found if _ready(code_root, p)]
    pick = ready or found
    return pick[0] if pick else None


#: What `shlex.quote` leaves unquoted.
_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def _shell_quote(text: str) -> str:
    """`shlex.quote`, without importing `shlex` and `re` into the SessionStart hook."""
    if text and all(c in _SHELL_SAFE for c in text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


def env_file_text(data_dir: str | os.PathLike[str], project_dir: str | None) -> str:
    """The ``export`` lines SessionStart appends to ``$CLAUDE_ENV_FILE``."""
    lines = [f"export {DATA_ENV}={_shell_quote(os.fspath(data_dir))}"]
    if project_dir:
        lines.append(f"export {PROJECT_ENV}={_shell_quote(project_dir)}")
    return "\n".join(lines) + "\n"


def env_state(code_root: Path, data_dir: Path) -> tuple[str, float | None]:
    """``("ready", None)``, ``("creating", seconds since it started)`` or ``("absent", None)``."""
    import fcntl
    import time

    if _ready(code_root, data_dir):
        return "ready", None
    try:
        fd = os.open(data_dir / _LOCK, os.O_RDWR)
    except OSError:
        return "absent", None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        staged = [p.stat().st_mtime for p in data_dir.glob("venv.*.tmp")]
        return "creating", (time.time() - min(staged)) if staged else 0.0
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return "absent", None


def wait_until_ready(code_root: Path, data_dir: Path, timeout: float) -> bool:
    """Wait (at most *timeout* seconds) for a creation in progress to finish; True if ready."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, _ = env_state(code_root, data_dir)
        if state != "creating":
            return state == "ready"
        time.sleep(0.5)
    return _ready(code_root, data_dir)


def bootstrap_async(code_root: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> bool:
    """Start creating the private environment in the background; True if one was started."""
    import subprocess
    from pathlib import Path

    env = os.environ if environ is None else environ
    data = env.get("CLAUDE_PLUGIN_DATA")
    if not data or env.get("AGENT_JOURNAL_NO_BOOTSTRAP"):
        return False
    _private_dir(Path(data))
    log = os.fdopen(os.open(Path(data) / "venv-install.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT
                            | getattr(os, "O_NOFOLLOW", 0), 0o600), "ab")
    try:
        subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), "create", str(code_root), data],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the hook; Claude Code does not wait for it
            close_fds=True,
        )
    finally:
        log.close()
    return True


def _private_dir(path: str | os.PathLike[str]) -> None:
    """``mkdir -p`` *path*; the directories this creates are 0700 whatever the umask."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.lexists(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)


def _make_private(venv: Path) -> None:
    """No group or world write anywhere in *venv*; its top directory 0700 (links left alone)."""
    for dirpath, dirnames, filenames in os.walk(venv):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not os.path.islink(path) and st.st_mode & 0o022:
                os.chmod(path, st.st_mode & 0o7755)
    os.chmod(venv, 0o700)


def create_env(code_root: Path, data_dir: Path) -> int:
    """Create ``data_dir/venv`` with the pinned dependencies; one creator at a time."""
    import fcntl
    import shutil
    import subprocess
    import time

    os.umask(0o077)  # this detached process, venv and pip included, creates private files only
    _private_dir(data_dir)
    lock_fd = os.open(data_dir / _LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another hook is already creating it
    try:
        venv = data_dir / VENV_DIR
        wanted = _lock_contents(code_root)
        marker = venv / READY_MARKER
        if marker.exists() and marker.read_text(encoding="utf-8") == wanted:
            return 0
        staging = data_dir / f"venv.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True)
        subprocess.run(
            [str(_venv_python(staging)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(code_root / "hooks" / "requirements.lock")],
            check=True,
        )
        _make_private(staging)
        shutil.rmtree(venv, ignore_errors=True)
        os.replace(staging, venv)  # the interpreter finds pyvenv.cfg beside itself: renaming is safe
        marker.write_text(wanted, encoding="utf-8")
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} ready", flush=True)
        return 0
    finally:
        os.close(lock_fd)


if __name__ == "__main__":
    from pathlib import Path

    if len(sys.argv) == 4 and sys.argv[1] == "create":
        sys.exit(create_env(Path(sys.argv[2]), Path(sys.argv[3])))
    print("usage: runtime.py create CODE_ROOT DATA_DIR", file=sys.stderr)
    sys.exit(2)
