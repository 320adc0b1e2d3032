"""The hook's work, run by ``hooks/launch.py`` (``python3 -I -S hooks/launch.py``, payload on stdin).

Stdlib only, so it runs under any ``python3`` >= 3.11 with nothing installed: the
launcher puts the directory holding ``journal/`` and ``hooks/`` (the plugin root, or
site-packages for a pip install) first on ``sys.path``, and this records the event.
Rendering (the SessionStart context, the PreCompact capture) needs msgspec; see
`hooks.runtime`.

Recording imports no more than it needs: not `json`, `re`, `pathlib` or `typing` (each
would cost about as much as the whole record path), which
``tests/hooks/test_import_budget.py`` enforces. Paths are strings here. This code is a
module, not the script itself, because a script is compiled on every run (2 ms) while a
module's bytecode is cached.

Contract with Claude Code (docs: hooks reference, exit codes):
* always exit 0: exit 2 would block the user, a traceback's exit 1 shows a hook error;
* stdout stays empty except SessionStart's JSON (plain stdout on SessionStart and
  UserPromptSubmit would become model context);
* on an internal error: one line on stderr and one in the journal's errors.log.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # no typing at run time: this is the hook
if TYPE_CHECKING:
    from typing import Any

#: The script Claude Code runs (it tells installed copies apart: `hooks.firings.copy_id`).
LAUNCHER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "launch.py")
#: The directory holding ``journal/`` and ``hooks/``.
CODE_ROOT = os.path.dirname(os.path.dirname(LAUNCHER))

#: Hard cap on additionalContext: Claude Code spills anything over 10,000 characters to a file.
CONTEXT_HARD_CAP = 9_800
#: Seconds allowed for rendering before the hook gives up on context (never on recording).
RENDER_TIMEOUT = 20.0


class _RenderTimeout(Exception):
    pass


def _has_msgspec() -> bool:
    """Whether msgspec is on ``sys.path`` (found without importing it or importlib.util)."""
    return any(os.path.isfile(os.path.join(entry or ".", "msgspec", "__init__.py")) for entry in sys.path)


def _render(kind: str, *args: str) -> dict[str, Any] | None:
    """Run `hooks.render` in this process when the rendering environment is known, else in
    an interpreter that has msgspec (None, and its creation started, if there is none yet).

    Known: msgspec is on ``sys.path`` (a pip install), or the interpreter `hooks.runtime`
    finds (``$AGENT_JOURNAL_PYTHON``, the plugin's private environment, the one behind
    ``agent-journal``) belongs to a virtual environment of this Python version: its
    site-packages (and their ``.pth`` files) go on ``sys.path`` after ours, and no second
    interpreter starts."""
    import gc

    gc.enable()  # hooks/launch.py turns it off for the record path; rendering allocates far more
    explicit = os.environ.get("AGENT_JOURNAL_PYTHON")
    if explicit or not _has_msgspec():
        from hooks import runtime

        python = runtime.render_python(CODE_ROOT)
        if python is None:
            runtime.bootstrap_async(CODE_ROOT)
            return None
        site = runtime.site_packages(python)
        if site is None:
            return _render_elsewhere(python, kind, *args)
        if site not in sys.path:
            import site as site_module  # -S: importing it runs nothing; addsitedir reads .pth files

            site_module.addsitedir(site)  # appended: after the stdlib and the plugin's own code
    import signal

    from hooks import render

    def on_alarm(signum: int, frame: object) -> None:
        raise _RenderTimeout(f"rendering {kind} took over {RENDER_TIMEOUT:g}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, RENDER_TIMEOUT)
    try:
        from pathlib import Path

        if kind == "session-start":
            return render.session_start(Path(args[0]), *args[1:])
        return render.precompact(Path(args[0]), args[1])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _render_elsewhere(python: str, kind: str, *args: str) -> dict[str, Any] | None:
    """Run `hooks.render` in *python* (another Python version than this one)."""
    import subprocess

    from journal.cjson import loads

    boot = (
        f"import sys; sys.path.insert(0, {CODE_ROOT!r}); "
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
    return loads(proc.stdout)  # type: ignore[no-any-return]


def _compaction_python() -> str | None:
    """An interpreter for ``agent-journal compact --auto`` (it needs msgspec and click)."""
    if _has_msgspec():
        return sys.executable
    from hooks.interpreter import render_python  # not hooks.runtime: SessionEnd creates no environment

    return render_python(CODE_ROOT)


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

    text = env_file_text(data, project if isinstance(project, str) else None)
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
    sanitizer = None  # the journal's redaction, made once when the digest needs it first
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
        claimed = claim(root, stream.digest_source(), copy_id(LAUNCHER))
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
            notes["git_branch"] = git_branch(project)
    elif name == "Stop" and session and isinstance(payload.get("transcript_path"), str) and config_problem is None:
        from hooks.digest import digest_transcript

        try:
            # Redacted as it is read (a topic word or a cut prompt would hide a secret's context);
            # rules that cannot run mean no digest, and the event itself is withheld below.
            sanitizer = record.sanitizer_for(config)
            digest = digest_transcript(os.path.join(root, "cache"), session, payload["transcript_path"],
                                       sanitizer.text)
        except (record.ConfigError, record.RedactionUnavailable):
            digest = None
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
            event = record.build_event(hook_input, config, sanitizer)
        except record.ConfigError as e:
            config_problem = str(e)
        except record.RedactionUnavailable as e:  # fail closed: the payload is withheld
            config_problem, problem_kind = str(e), "RedactionUnavailable"
    if config_problem is not None:
        event = record.withheld_event(hook_input, config_problem)
        failures.append(f"{problem_kind}: {config_problem}")
    seqs = record.append_event(root, event, config)

    if name == "SessionEnd":
        # Retention: a due compaction starts detached; this hook never waits for it.
        from hooks.housekeeping import maybe_start_auto_compaction

        compacting = maybe_start_auto_compaction(root, config=config, python=_compaction_python, code_root=CODE_ROOT)
        # The search index is updated lazily, never on Pre/PostToolUse: here, detached, in
        # one job with the refresh of the context.write_dir files (when that is set).
        files_for = _files_project(config, payload) if config_problem is None else None
        if not compacting or files_for:
            from hooks.index_job import start_index_update

            start_index_update(root, python=_compaction_python, code_root=CODE_ROOT, index=not compacting,
                               refresh_project=files_for, next_context_of=None if compacting else session)
        # Shipping to PostgreSQL, when configured (a "ship" section or the URL variable of
        # `journal.shipping.state`, not imported otherwise): the same detached start.
        if config.extra.get("ship") is not None or os.environ.get("AGENT_JOURNAL_SHIP_URL"):
            from hooks.housekeeping import maybe_start_auto_ship

            maybe_start_auto_ship(root, config=config, python=_compaction_python, code_root=CODE_ROOT)

    if name == "SessionStart" and session:
        source = payload.get("source")
        files_for = _files_project(config, payload) if config_problem is None else None
        out = None
        if source == "startup" and not files_for and config_problem is None and len(seqs) == 1 \
                and hook_input.raw_size <= config.max_record_bytes // 8:  # recorded whole, as itself
            from hooks.context_cache import cached

            text = cached(root, seq=seqs[0], session=session, project=project, branch=notes.get("git_branch"),
                          code_root=CODE_ROOT)
            out = None if text is None else {"context": text, "consumed": []}
        if out is None:
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
                from journal.cjson import dumps

                stdout.write(dumps(  # type: ignore[attr-defined]
                    {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": _cap(context)}},
                    ensure_ascii=False,
                ))
                stdout.flush()  # type: ignore[attr-defined]
    if failures:
        raise RuntimeError("; ".join(failures))


_state: dict[str, object] = {}


def _remember_interpreter() -> None:
    """Make sure ``$CLAUDE_PLUGIN_DATA/python`` names this interpreter, for ``hooks/launch``
    (one small read per hook; written on the first, or after the interpreter changed)."""
    data = os.environ.get("CLAUDE_PLUGIN_DATA")
    if not data or not sys.executable:
        return
    try:
        fd = os.open(os.path.join(data, "python"), os.O_RDONLY)
        try:
            cached = os.read(fd, 4096).decode("utf-8", "surrogateescape").rstrip("\n")
        finally:
            os.close(fd)
    except OSError:
        cached = None
    if cached != sys.executable:
        from hooks.runtime import remember_python

        remember_python(data, sys.executable)


#: Hook types whose process imports the renderer (msgspec, the projections): what they
#: import is not the record path, so they do not rewrite the code cache.
_RENDERING = ("SessionStart", "PreCompact")


def _save_code_cache() -> None:
    """Write the code cache again if this firing imported a module it lacked (`hooks.codecache`)."""
    cache = sys.modules.get("hooks.codecache")  # loaded by hooks/launch.py, not by an in-process call
    finder = cache.installed() if cache is not None else None
    try:
        if finder is not None and finder.needs_saving():
            from hooks.codecache_write import write

            write(finder)  # never raises
    except Exception:  # noqa: BLE001 - only a cache
        pass


def main() -> int:
    """Run the hook; whatever happens, exit 0 with at most one line on stderr."""
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # nothing but the SessionStart JSON may reach Claude Code's stdout
    try:
        run(sys.stdin.buffer, real_stdout)
        try:
            _remember_interpreter()
        except Exception:  # noqa: BLE001 - only a shortcut for the next hook
            pass
        if _state.get("event") not in _RENDERING:
            _save_code_cache()
    except BaseException as e:  # noqa: BLE001 - a hook must never fail Claude Code
        message = " ".join(f"agent-journal hook: {type(e).__name__}: {e}".split())[:500]
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except Exception:
            pass
        root = _state.get("root")
        if isinstance(root, str):
            from journal.errorlog import log_error

            log_error(root, "hook_error", message, event=_state.get("event"))
    return 0
