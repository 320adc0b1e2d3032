#!/usr/bin/env python3
"""Claude Code hook entry point: ``python3 -I -S hooks/launch.py`` with the payload on stdin.

Stdlib only, so it runs under any ``python3`` >= 3.11 with nothing installed: it puts
the directory holding ``journal/`` and ``hooks/`` (the plugin root, or site-packages
for a pip install) first on ``sys.path`` and records the event. Rendering (the
SessionStart context, the PreCompact capture) needs msgspec; see `hooks.runtime`.

Contract with Claude Code (docs: hooks reference, exit codes):
* always exit 0: exit 2 would block the user, a traceback's exit 1 shows a hook error;
* stdout stays empty except SessionStart's JSON (plain stdout on SessionStart and
  UserPromptSubmit would become model context);
* on an internal error: one line on stderr and one in the journal's errors.log.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # no typing at run time: this is the hook's hot path
if TYPE_CHECKING:
    from typing import Any

CODE_ROOT = Path(__file__).resolve().parent.parent
if str(CODE_ROOT) not in sys.path:
    sys.path.insert(0, str(CODE_ROOT))

#: Hard cap on additionalContext: Claude Code spills anything over 10,000 characters to a file.
#: The context's own size is `projections.read.context.DEFAULT_MAX_CHARS` (or
#: ``context.max_chars``); this is the last guard over whatever was rendered, in this
#: interpreter or another. It stays here, not beside that budget: this module runs
#: stdlib-only and cannot import `projections` (tests/hooks/test_context_cap.py ties the two).
CONTEXT_HARD_CAP = 9_800
#: Seconds allowed for rendering before the hook gives up on context (never on recording).
RENDER_TIMEOUT = 20.0


class _RenderTimeout(Exception):
    pass


def _render(kind: str, *args: str) -> dict[str, Any] | None:
    """Run `hooks.render` in-process if msgspec is importable, else in an interpreter that has it."""
    if os.environ.get("AGENT_JOURNAL_PYTHON"):
        return _render_elsewhere(kind, *args)  # an explicit choice wins over this interpreter
    try:
        import msgspec  # noqa: F401  (only to learn whether this interpreter can render)
    except ImportError:
        return _render_elsewhere(kind, *args)
    import signal

    from hooks import render

    def on_alarm(signum: int, frame: object) -> None:
        raise _RenderTimeout(f"rendering {kind} took over {RENDER_TIMEOUT:g}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, RENDER_TIMEOUT)
    try:
        if kind == "session-start":
            return render.session_start(Path(args[0]), *args[1:])
        return render.precompact(Path(args[0]), args[1])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _render_elsewhere(kind: str, *args: str) -> dict[str, Any] | None:
    import subprocess

    from hooks import runtime

    python = runtime.render_python(CODE_ROOT)
    if python is None:
        runtime.bootstrap_async(CODE_ROOT)
        return None
    boot = (
        f"import sys; sys.path.insert(0, {str(CODE_ROOT)!r}); "
        "from hooks.render import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [python, "-I", "-c", boot, kind, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=RENDER_TIMEOUT,
    )
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"]
        raise RuntimeError(f"render {kind} failed with {python}: {lines[-1]}")
    rendered: dict[str, Any] = json.loads(proc.stdout)
    return rendered


def _compaction_python() -> str | None:
    """An interpreter for ``agent-journal compact --auto`` (it needs msgspec and click)."""
    import importlib.util

    if importlib.util.find_spec("msgspec") is not None:
        return sys.executable
    from hooks import runtime

    return runtime.render_python(CODE_ROOT)


class _Recorded:
    """stdin that keeps its first read (the whole payload, or the first 32 MiB of an oversized
    one): what `hooks.firings` tells firings apart by."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self._first: bytes | None = None

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._stream.read(n)  # type: ignore[attr-defined]
        if self._first is None:
            self._first = data
        return data

    def digest_source(self) -> bytes:
        return self._first or b""


def _export_environment(project: object) -> None:
    """Append the plugin's data directory (and the project) to ``$CLAUDE_ENV_FILE``.

    Claude Code sources that file into every Bash tool call and ``!`` command of the
    session, which otherwise get no ``CLAUDE_PLUGIN_DATA``: this is how
    ``bin/agent-journal`` finds the private environment there. Plugin hooks only.
    """
    env_file, data = os.environ.get("CLAUDE_ENV_FILE"), os.environ.get("CLAUDE_PLUGIN_DATA")
    if not env_file or not data:
        return
    from hooks.runtime import env_file_text

    text = env_file_text(Path(data), project if isinstance(project, str) else None)
    fd = os.open(env_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _files_project(config: object, payload: dict[str, Any]) -> str | None:
    """The project whose ``context.write_dir`` files the render or SessionEnd job refreshes
    (None when the key is not set: a dict lookup, nothing more)."""
    section = getattr(config, "extra", {}).get("context")
    if not isinstance(section, dict) or not section.get("write_dir"):
        return None
    from hooks.record import project_dir_for

    return project_dir_for(payload)


def _cap(text: str, limit: int = CONTEXT_HARD_CAP) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 80)
    return text[: max(cut, 0)] + "\n\n(context cut to fit Claude Code's limit; run `agent-journal context`)\n"


def run(stdin: object, stdout: object) -> None:
    """Record one hook firing; on SessionStart, write the recovery context to *stdout*."""
    from hooks import record

    stream = _Recorded(stdin)
    hook_input = record.read_input(stream)  # type: ignore[arg-type]
    name = hook_input.event_name if hook_input.problem is None else None
    _state["event"] = name
    failures: list[str] = []
    config_problem = None
    # Known before the journal is opened, so a refused directory is still reported in its
    # errors.log (which `log_error` never writes through a link).
    _state["root"] = record.journal_dir_for(hook_input.payload)
    try:
        root, config = record.open_journal(hook_input.payload)
    except record.ConfigError as e:
        # Only config.json is broken. The event is still recorded, but without its
        # payload (the redaction rules in that file cannot be trusted), and the bad
        # config is reported once on stderr and in errors.log.
        root, config = record.journal_dir_for(hook_input.payload), record.JournalConfig()
        config_problem = str(e)
    _state["root"] = root
    payload = hook_input.payload or {}
    session = hook_input.ident("session_id")
    notes = hook_input.annotations
    project = os.environ.get("CLAUDE_PROJECT_DIR") or payload.get("cwd")

    if name == "SessionStart":
        try:
            _export_environment(project)
        except OSError as e:  # the CLI inside Claude needs it, the event does not
            failures.append(f"cannot append to CLAUDE_ENV_FILE: {e}")
    # Another installed copy of this hook (plugin and settings) may already have this firing.
    from hooks.firings import claim, copy_id

    try:
        claimed = claim(root, stream.digest_source(), copy_id(Path(__file__).resolve()))
    except OSError:  # claims are an optimisation of the mix of installs: a duplicate beats a loss
        claimed = True
    if not claimed:
        if failures:
            raise RuntimeError("; ".join(failures))
        return

    if name == "SessionStart":
        from hooks.gitinfo import git_branch
        from hooks.process import claude_process

        notes["process"] = claude_process()
        if isinstance(project, str):
            notes["project_dir"] = project
            notes["git_branch"] = git_branch(Path(project))
    elif name == "Stop" and session and isinstance(payload.get("transcript_path"), str):
        from hooks.digest import digest_transcript

        try:
            digest = digest_transcript(root / "cache", session, payload["transcript_path"])
        except Exception as e:  # the event matters more than its digest
            failures.append(f"transcript digest failed: {type(e).__name__}: {e}")
            digest = None
        if digest:
            notes["digest"] = digest
    elif name == "PreCompact" and session:
        try:
            out = _render("precompact", str(root), session)
        except Exception as e:
            failures.append(f"precompact capture failed: {type(e).__name__}: {e}")
            out = None
        if out and out.get("capture"):
            notes["capture"] = out["capture"]

    problem_kind = "ConfigError"
    if config_problem is None:
        try:
            event = record.build_event(hook_input, config)
        except record.ConfigError as e:
            config_problem = str(e)
        except record.RedactionUnavailable as e:  # fail closed: the payload is withheld
            config_problem, problem_kind = str(e), "RedactionUnavailable"
    if config_problem is not None:
        event = record.withheld_event(hook_input, config_problem)
        failures.append(f"{problem_kind}: {config_problem}")
    record.append_event(root, event, config)

    if name == "SessionEnd":
        # Retention: a due compaction starts detached; this hook never waits for it.
        from journal.compaction.retention import maybe_start_auto_compaction

        compacting = maybe_start_auto_compaction(root, config=config, python=_compaction_python, code_root=CODE_ROOT)
        # The search index is updated lazily, never on Pre/PostToolUse: here, detached, in
        # one job with the refresh of the context.write_dir files (when that is set).
        files_for = _files_project(config, payload) if config_problem is None else None
        if not compacting or files_for:
            from hooks.index_job import start_index_update

            start_index_update(root, python=_compaction_python, code_root=CODE_ROOT, index=not compacting,
                               refresh_project=files_for)
        # Shipping to PostgreSQL, when configured: the same detached start, never a wait.
        from journal.shipping.state import maybe_start_auto_ship

        maybe_start_auto_ship(root, config=config, python=_compaction_python, code_root=CODE_ROOT)

    if name == "SessionStart" and session:
        source = payload.get("source")
        files_for = _files_project(config, payload) if config_problem is None else None
        out = _render("session-start", str(root), session, source if isinstance(source, str) else "startup",
                      *([files_for] if files_for else []))
        if out:
            for seq in out.get("consumed", []):
                record.append_event(
                    root,
                    record.NewEvent("journal.resume_consumed", {"request_seq": seq}, session=session),
                    config,
                )
            context = out.get("context") or ""
            if context.strip():
                stdout.write(json.dumps(  # type: ignore[attr-defined]
                    {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": _cap(context)}},
                    ensure_ascii=False,
                ))
                stdout.flush()  # type: ignore[attr-defined]
    if failures:
        raise RuntimeError("; ".join(failures))


_state: dict[str, object] = {}


def main() -> int:
    """Run the hook; whatever happens, exit 0 with at most one line on stderr."""
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # nothing but the SessionStart JSON may reach Claude Code's stdout
    try:
        run(sys.stdin.buffer, real_stdout)
    except BaseException as e:  # noqa: BLE001 - a hook must never fail Claude Code
        message = " ".join(f"agent-journal hook: {type(e).__name__}: {e}".split())[:500]
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except Exception:
            pass
        root = _state.get("root")
        if isinstance(root, Path):
            from journal.layout import log_error

            log_error(root, "hook_error", message, event=_state.get("event"))
    return 0


if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
    finally:
        os._exit(code)  # skip interpreter teardown: it is pure latency for a hook
