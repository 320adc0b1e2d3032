"""Run the real Claude Code binary offline against :mod:`tests.e2e.fake_api`.

Each run gets a throwaway ``HOME`` (Claude Code keeps settings, transcripts and its session
registry under ``~/.claude``) and a ``git init``-ed project directory, and talks only to the
fake API on ``127.0.0.1``. Helpers here are deliberately free of pytest so scenario tests and
ad-hoc scripts can share them.

Typical use::

    result = run_claude(claude_bin, home, project, api.port, "MARKER do it", plugin_dir=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    session_id = find_session_id(home)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self, TypeVar

__all__ = [
    "ALLOWED_TOOLS",
    "CLAUDE_BIN_ENV",
    "REPO_ROOT",
    "ClaudeProcess",
    "ClaudeResult",
    "ClaudeTimeoutError",
    "claude_command",
    "claude_env",
    "ensure_claude",
    "find_session_id",
    "init_project",
    "read_jsonl",
    "run_claude",
    "session_ids",
    "start_claude",
    "transcript_path",
    "wait_until",
]

#: Repository root (``tests/e2e/claude.py`` -> two levels up); the real plugin lives here.
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Environment variable naming an explicit binary (CI images may preinstall it elsewhere).
CLAUDE_BIN_ENV = "AGENT_JOURNAL_CLAUDE_BIN"

#: Tools pre-approved with ``--allowedTools``; running as root refuses
#: ``--dangerously-skip-permissions``, and unapproved tools are denied in ``-p`` mode.
ALLOWED_TOOLS = "Write Bash Agent Read Edit"

# Where `npm install @anthropic-ai/claude-code` in <repo>/.e2e puts the binary. The
# platform package holds the native executable; `.bin/claude` links to a hard-linked copy
# that the package's postinstall drops into `claude-code/bin/claude.exe` (absent when
# install scripts are skipped, hence the platform packages are tried as well).
_NPM_ROOT = REPO_ROOT / ".e2e" / "node_modules"
_CANDIDATES = (
    _NPM_ROOT / "@anthropic-ai" / "claude-code-linux-x64" / "claude",
    _NPM_ROOT / ".bin" / "claude",
)

# Variables that would leak the developer's (or an enclosing Claude Code's) identity,
# endpoints or hook context into the run under test.
_SCRUBBED_PREFIXES = ("ANTHROPIC_", "CLAUDE", "OTEL_", "AWS_", "GOOGLE_", "VERTEX_")
_SCRUBBED_NAMES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"}
)

_T = TypeVar("_T")


# --------------------------------------------------------------------------- the binary


def ensure_claude() -> Path | None:
    """Path of a runnable Claude Code binary, or ``None`` when none is installed.

    ``$AGENT_JOURNAL_CLAUDE_BIN`` wins; otherwise the npm install under ``<repo>/.e2e``
    (``npm install @anthropic-ai/claude-code@2.1.328`` there).
    """
    override = os.environ.get(CLAUDE_BIN_ENV)
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    candidates = list(_CANDIDATES) + sorted((_NPM_ROOT / "@anthropic-ai").glob("claude-code-*/claude"))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


# --------------------------------------------------------------------------- environment


def init_project(path: Path) -> Path:
    """Create ``path`` as a fresh git repository (Claude Code reports git status to the model)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, capture_output=True)
    return path


def claude_env(home: Path, port: int, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for one offline run: a scrubbed copy of ours plus the fake endpoint.

    The running interpreter's directory goes first on ``PATH``, so a hook declared as
    ``python3 …`` (and the ``agent-journal`` script of an installed venv) resolve to the
    environment the tests run in, with the project's dependencies. ``extra_env`` wins.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_SCRUBBED_PREFIXES) and key not in _SCRUBBED_NAMES
    }
    # XDG dirs would otherwise point into the developer's real home.
    for key in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env.pop(key, None)
    # Not resolved: the venv's bin/python3 is a symlink, and only its own path keeps the venv.
    interpreter_dir = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != interpreter_dir]
    env.update(
        {
            "HOME": str(home),
            "PATH": os.pathsep.join([interpreter_dir, *path]),
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
            "ANTHROPIC_API_KEY": "test",
            "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            # Proxies were dropped above; make sure nothing routes loopback through one.
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    if extra_env:
        env.update(extra_env)
    return env


def claude_command(
    claude_bin: Path | str,
    prompt: str,
    *,
    plugin_dir: Path | str | None = None,
    resume: str | None = None,
    allowed_tools: str = ALLOWED_TOOLS,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The argv for one ``claude -p`` turn."""
    argv = [str(claude_bin), "-p", prompt, "--allowedTools", allowed_tools]
    if plugin_dir is not None:
        argv += ["--plugin-dir", str(plugin_dir)]
    if resume is not None:
        argv += ["--resume", resume]
    argv += list(extra_args)
    return argv


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class ClaudeResult:
    """Outcome of one finished run; unpacks as ``returncode, stdout, stderr``."""

    returncode: int
    stdout: str
    stderr: str
    duration: float
    argv: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.returncode, self.stdout, self.stderr))

    def describe(self) -> str:
        """A failure message with exit code, timing and both streams."""
        return (
            f"claude exited {self.returncode} after {self.duration:.1f}s\n"
            f"argv: {self.argv}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


class ClaudeTimeoutError(AssertionError):
    """A run exceeded its timeout; carries what it printed so far. An AssertionError so
    pytest reports it as a test failure with the output, not as an internal error."""

    def __init__(self, timeout: float, argv: Sequence[str], stdout: str, stderr: str) -> None:
        super().__init__(
            f"claude did not finish within {timeout}s\nargv: {list(argv)}\n"
            f"--- stdout ---\n{stdout[-4000:]}\n--- stderr ---\n{stderr[-4000:]}"
        )
        self.stdout = stdout
        self.stderr = stderr


def run_claude(
    claude_bin: Path | str,
    home: Path,
    project: Path,
    port: int,
    prompt: str,
    plugin_dir: Path | str | None = None,
    resume: str | None = None,
    timeout: float = 120,
    extra_env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    allowed_tools: str = ALLOWED_TOOLS,
) -> ClaudeResult:
    """Run one ``claude -p PROMPT`` turn in ``project`` and wait for it.

    The whole process group is killed on timeout (hooks and Bash tools included) and
    :class:`ClaudeTimeoutError` is raised. A non-zero exit is returned, not raised, since some
    scenarios expect one.
    """
    proc = start_claude(
        claude_bin,
        home,
        project,
        port,
        prompt,
        plugin_dir=plugin_dir,
        resume=resume,
        extra_env=extra_env,
        extra_args=extra_args,
        allowed_tools=allowed_tools,
    )
    with proc:
        try:
            returncode = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill_tree()
            raise ClaudeTimeoutError(timeout, proc.argv, proc.stdout(), proc.stderr()) from None
        # Read the output before the context exit closes its files.
        return ClaudeResult(returncode, proc.stdout(), proc.stderr(), time.monotonic() - proc.started_at, proc.argv)


class ClaudeProcess:
    """A ``claude`` run in the background, for tests that crash it or watch it mid-turn.

    stdout/stderr go to temporary files (a pipe nobody drains could stall Claude Code).
    Claude Code is the leader of a new process group, so :meth:`kill_tree` reaches its
    hooks and tools even after it has been killed itself.
    """

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.argv = argv
        # Files, not context managers: they must outlive this call (closed in cleanup()).
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._final: tuple[str, str] | None = None
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
        )
        # Descendants seen while Claude Code ran, as (pid, start time): once it is killed
        # they are reparented to init and invisible from its pid, and the start time
        # guards against signalling an unrelated process that reused a pid.
        self._seen_descendants: set[tuple[int, int]] = set()

    @property
    def pid(self) -> int:
        """PID of the Claude Code process (what hooks see as ``CLAUDE_PID``)."""
        return self.popen.pid

    def poll(self) -> int | None:
        """Exit code, or ``None`` while running."""
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit; raises ``subprocess.TimeoutExpired``."""
        return self.popen.wait(timeout)

    def descendants(self) -> list[int]:
        """PIDs of the live processes below Claude Code (hooks, Bash tools), from /proc."""
        found = _descendants(self.pid)
        self._seen_descendants.update(found)
        return [pid for pid, _ in found]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal only the Claude Code process itself, like a crash or ``kill -9 PID``.

        Its children are remembered first so :meth:`cleanup` can still reap them.
        """
        self.descendants()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def kill_tree(self) -> None:
        """SIGKILL Claude Code and everything it started."""
        if self.popen.poll() is None:
            self.descendants()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid, started in self._seen_descendants:
            if _start_time(pid) != started:
                continue  # already gone, or the pid now belongs to someone else
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def stdout(self) -> str:
        """Everything written to stdout so far (still available after :meth:`cleanup`)."""
        return self._final[0] if self._final is not None else _read_all(self._out)

    def stderr(self) -> str:
        """Everything written to stderr so far (still available after :meth:`cleanup`)."""
        return self._final[1] if self._final is not None else _read_all(self._err)

    def cleanup(self) -> None:
        """Kill whatever is left (a no-op after a clean exit) and close the output files.

        Idempotent; the output is kept in memory so it can still be read afterwards.
        """
        if self._final is not None:
            return
        self.kill_tree()
        self._final = (_read_all(self._out), _read_all(self._err))
        self._out.close()
        self._err.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def start_claude(
    claude_bin: Path | str,
    home: Path,
    project: Path,
    port: int,
    prompt: str,
    plugin_dir: Path | str | None = None,
    resume: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    allowed_tools: str = ALLOWED_TOOLS,
) -> ClaudeProcess:
    """Start ``claude -p PROMPT`` without waiting; use as a context manager to always clean up."""
    home.mkdir(parents=True, exist_ok=True)
    argv = claude_command(
        claude_bin, prompt, plugin_dir=plugin_dir, resume=resume, allowed_tools=allowed_tools, extra_args=extra_args
    )
    return ClaudeProcess(argv, project, claude_env(home, port, extra_env))


def wait_until(
    condition: Callable[[], _T], timeout: float = 30.0, interval: float = 0.1, message: str = "condition"
) -> _T:
    """Poll ``condition`` until it returns something truthy and return that value.

    Exceptions from ``condition`` count as "not yet" (a file may be half written); the last
    one is chained to the ``TimeoutError`` raised after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # retried until the deadline
            last_error = error
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}") from last_error
        time.sleep(interval)


# --------------------------------------------------------------------------- sessions


def _project_dirs(home: Path) -> list[Path]:
    root = home / ".claude" / "projects"
    return [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []


def session_ids(home: Path) -> list[str]:
    """Ids of the main-session transcripts under ``HOME/.claude/projects``, oldest first.

    Subagent transcripts (``<session>/subagents/agent-*.jsonl``) are not sessions.
    """
    transcripts = [t for d in _project_dirs(home) for t in d.glob("*.jsonl")]
    transcripts.sort(key=lambda t: t.stat().st_mtime)
    return [t.stem for t in transcripts]


def find_session_id(home: Path, payloads: Sequence[Mapping[str, Any]] = ()) -> str | None:
    """The session id of the latest run in ``home``.

    Hook payloads, when given, are the authority (the first one carrying ``session_id``);
    otherwise the most recently written transcript names it.
    """
    for payload in payloads:
        value = payload.get("session_id")
        if isinstance(value, str) and value:
            return value
    ids = session_ids(home)
    return ids[-1] if ids else None


def transcript_path(home: Path, session_id: str) -> Path | None:
    """Path of a session's transcript, if Claude Code wrote one."""
    for directory in _project_dirs(home):
        candidate = directory / f"{session_id}.jsonl"
        if candidate.is_file():
            return candidate
    return None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse a JSONL file, skipping blank and torn lines (it may still be being written)."""
    if not path.is_file():
        return []
    records: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


# --------------------------------------------------------------------------- internals


def _read_all(handle: IO[bytes]) -> str:
    position = handle.tell()
    handle.seek(0)
    data = handle.read()
    handle.seek(position)
    return data.decode("utf-8", "replace")


def _stat_fields(pid: int | str) -> list[bytes] | None:
    """Fields of /proc/PID/stat after the command name (field 4 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name may contain spaces and parens: fields follow the last ')'.
            return stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_time(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (field 22), or None if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def _descendants(root: int) -> list[tuple[int, int]]:
    """(pid, start time) of all live descendants of ``root`` per /proc (empty without /proc)."""
    children: dict[int, list[tuple[int, int]]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if not fields or len(fields) <= 19:
            continue
        children.setdefault(int(fields[1]), []).append((int(entry), int(fields[19])))
    found: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child[0])
    return found
