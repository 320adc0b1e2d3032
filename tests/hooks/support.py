"""Helpers for the hook tests: run the launcher as Claude Code does, then read the journal back.

`run_hook` starts ``python -I -S hooks/launch.py`` (the command the plugin registers; ``-S``
hides site-packages, so the launcher runs on the bare stdlib exactly as under a plain
``python3``) with a given stdin and a minimal, explicit environment: the journal in the
test's tmp directory, ``CLAUDE_PROJECT_DIR`` unset unless asked for, no bootstrap of the
plugin's private venv, and a ``PATH`` with no ``agent-journal`` on it, so no rendering
interpreter is found unless a test provides one. The child's cwd and ``HOME`` are inside
the tmp directory too, so a stray file written anywhere but the journal shows up in a
`tree_snapshot` diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hooks.launch
from journal import Journal

#: The launcher of the installed distribution (what ``agent-journal install`` registers).
LAUNCHER = Path(hooks.launch.__file__).resolve()
#: Any Python >= 3.11 works; with ``-I -S`` this one sees only the stdlib.
PYTHON = sys.executable
from tests.paths import FIXTURES  # noqa: E402  ../shared beside the repository
PAYLOADS_FILE = FIXTURES / "hook-payloads.jsonl"
TRANSCRIPTS = FIXTURES / "transcripts"


@dataclass(frozen=True)
class HookResult:
    """One launcher run. Unpacks as ``(returncode, stdout, stderr)``; ``elapsed`` in seconds."""

    returncode: int
    stdout: bytes
    stderr: bytes
    elapsed: float

    def __iter__(self) -> Iterator[Any]:
        return iter((self.returncode, self.stdout, self.stderr))

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.decode("utf-8", "replace").splitlines()


def fixture_payloads() -> list[dict[str, Any]]:
    """The real 2.1.328 hook payloads, in the order Claude Code sent them."""
    with PAYLOADS_FILE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def compact(payload: Mapping[str, Any]) -> bytes:
    """A payload as Claude Code writes it: compact JSON, non-ASCII as UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def canonical(value: Any) -> str:
    """A type-exact rendering for comparisons (``1``, ``1.0`` and ``true`` differ here)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def proc_start(pid: int) -> str:
    """Field 22 (starttime) of ``/proc/<pid>/stat``, parsed independently of hooks.process."""
    raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    return raw[raw.rindex(")") + 2 :].split()[19]


class HookEnv:
    """Runs the launcher against one journal in one tmp tree."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.journal_dir = tmp / "journal"
        self.cwd = tmp / "work"
        self.home = tmp / "home"
        self.cwd.mkdir(exist_ok=True)
        self.home.mkdir(exist_ok=True)

    def env(self, extra: Mapping[str, str | None] | None = None, *, journal: bool = True) -> dict[str, str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "AGENT_JOURNAL_NO_BOOTSTRAP": "1",
        }
        if journal:
            env["AGENT_JOURNAL_DIR"] = str(self.journal_dir)
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def run(
        self,
        stdin: bytes | str | Mapping[str, Any],
        env: Mapping[str, str | None] | None = None,
        *,
        journal: bool = True,
        timeout: float = 60.0,
    ) -> HookResult:
        """Run the launcher once with *stdin* (a dict is sent as compact JSON)."""
        if isinstance(stdin, Mapping):
            data = compact(stdin)
        elif isinstance(stdin, str):
            data = stdin.encode("utf-8")
        else:
            data = stdin
        start = time.monotonic()
        proc = subprocess.run(
            [PYTHON, "-I", "-S", str(LAUNCHER)],
            input=data,
            capture_output=True,
            env=self.env(env, journal=journal),
            cwd=self.cwd,
            timeout=timeout,
        )
        return HookResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)

    def journal(self, root: Path | None = None) -> Journal:
        return Journal.open(root or self.journal_dir, create=False)

    def events(self, root: Path | None = None) -> list[Any]:
        """Every event, read strictly (any damage raises), after a clean verify."""
        journal = self.journal(root)
        report = journal.verify()
        assert report.ok, report.to_dict()
        return list(journal.read(mode="strict"))

    def errors_log(self, root: Path | None = None) -> list[dict[str, Any]]:
        path = (root or self.journal_dir) / "errors.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def tree_snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every path under *root* -> (kind, size, mtime_ns, mode), without following symlinks."""
    out: dict[str, tuple[str, int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            kind = "dir" if path.is_dir() and not path.is_symlink() else "link" if path.is_symlink() else "file"
            # A directory's size and mtime change when entries are added: compare only files.
            size = 0 if kind == "dir" else st.st_size
            mtime = 0 if kind == "dir" else st.st_mtime_ns
            out[str(path.relative_to(root))] = (kind, size, mtime, st.st_mode)
    return out


def changed_paths(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """Paths added, removed or modified between two `tree_snapshot`s."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


#: The user-level journal registry (journal.registry), under the test HOME: the one file
#: outside the journal a hook may write (when it creates a journal).
REGISTRY_REL = ("home/.local", "home/.local/share", "home/.local/share/agent-journal",
                "home/.local/share/agent-journal/projects.json", "home/.local/share/agent-journal/projects.lock")


def assert_only_journal_changed(before: Mapping[str, Any], after: Mapping[str, Any], journal_rel: str) -> None:
    stray = sorted(p for p in changed_paths(before, after)
                   if p != journal_rel and not p.startswith(journal_rel + "/") and p not in REGISTRY_REL)
    assert not stray, f"files changed outside the journal directory: {stray}"


