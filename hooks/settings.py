"""Merging Agent Journal's hooks into a Claude Code settings file, and taking them out.

For people who do not use plugins: `install` adds one handler per hook event to
``.claude/settings.local.json`` (personal, not committed: the handler names one
person's interpreter), ``.claude/settings.json`` (shared) or ``~/.claude/settings.json``,
keeping every other setting and every other hook; `uninstall` removes only the
handlers it added. Both are idempotent, keep one backup of the user's own file beside
it, and replace the file atomically. Our handlers are recognised by their command:
an interpreter running an installed ``hooks/launch.py``.

Installed beside the plugin (or in two settings files), every copy fires; each firing
is still recorded once (`hooks.firings`). `plugin_enabled` and `installed_elsewhere`
let ``install`` say so.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from journal.errors import JournalError
from journal.layout import write_atomic

__all__ = ["HOOK_EVENTS", "TOOL_EVENTS", "SCOPES", "handler", "is_ours", "install", "uninstall", "settings_path",
           "plugin_enabled", "installed_elsewhere", "BACKUP_SUFFIX"]

#: Every event the plugin registers (see hooks/hooks.json): not WorktreeCreate, FileChanged, MessageDisplay.
HOOK_EVENTS = (
    "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "PostToolBatch",
    "Notification", "Stop", "StopFailure", "SubagentStart", "SubagentStop", "PreCompact", "PostCompact",
    "SessionEnd", "TaskCreated", "TaskCompleted", "PermissionRequest", "PermissionDenied", "CwdChanged",
    "ConfigChange", "InstructionsLoaded", "PreModelSwitch", "PostModelSwitch", "Setup", "UserPromptExpansion",
    "TeammateIdle", "Elicitation", "ElicitationResult", "WorktreeRemove", "DirectoryAdded",
)
TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied"})
_LAUNCHER = Path(__file__).resolve().with_name("launch.py")


#: ``install`` scopes: the file each one writes (see `settings_path`).
SCOPES = ("local", "shared", "user")
#: The one backup `install` keeps: ``<settings file>.agent-journal-backup``.
BACKUP_SUFFIX = ".agent-journal-backup"


def settings_path(scope: str, project: Path) -> Path:
    """``.claude/settings.local.json`` (local), ``.claude/settings.json`` (shared), ``~/.claude/settings.json``."""
    if scope == "user":
        return Path.home() / ".claude" / "settings.json"
    return project / ".claude" / ("settings.json" if scope == "shared" else "settings.local.json")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def plugin_enabled(project: Path, environ: dict[str, str] | None = None) -> list[str]:
    """Where the Agent Journal plugin is switched on: settings ``enabledPlugins``, or this session."""
    env = os.environ if environ is None else environ
    found = []
    if env.get("AGENT_JOURNAL_PLUGIN_DATA"):
        found.append("in this Claude Code session")
    for scope in ("user", "shared", "local"):
        path = settings_path(scope, project)
        doc = _read_json(path)
        enabled = doc.get("enabledPlugins") if isinstance(doc, dict) else None
        if isinstance(enabled, dict):
            found += [f"{name} in {path}" for name, on in enabled.items()
                      if on is True and str(name).split("@")[0] == "agent-journal"]
    return found


def installed_elsewhere(scope: str, project: Path) -> list[str]:
    """The other settings files that hold our handlers."""
    out = []
    for other in SCOPES:
        path = settings_path(other, project)
        if other == scope or path == settings_path(scope, project):
            continue
        doc = _read_json(path)
        hooks = doc.get("hooks") if isinstance(doc, dict) else None
        if isinstance(hooks, dict) and any(
            is_ours(h) for groups in hooks.values() if isinstance(groups, list)
            for g in groups if isinstance(g, dict) and isinstance(g.get("hooks"), list) for h in g["hooks"]
        ):
            out.append(str(path))
    return out


def handler(event: str) -> dict[str, Any]:
    """The hook handler for *event*: this interpreter running the installed launcher."""
    timeout = 30 if event in ("SessionStart", "PreCompact") else 2 if event == "SessionEnd" else 10
    return {"type": "command", "command": sys.executable, "args": ["-I", "-S", str(_LAUNCHER)], "timeout": timeout}


def is_ours(entry: Any) -> bool:
    """True for a handler that runs an Agent Journal launcher (any install location)."""
    if not isinstance(entry, dict):
        return False
    args = entry.get("args")
    # Only our exact shape (see `handler`): "<python> -I -S <somewhere>/hooks/launch.py", exec form.
    # A user's own hook running a script of that name (".claude/hooks/launch.py") is not ours.
    return (
        isinstance(args, list)
        and len(args) == 3
        and args[:2] == ["-I", "-S"]
        and str(args[2]).replace("\\", "/").endswith("/hooks/launch.py")
    )


def _load(path: Path) -> dict[str, Any] | None:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise JournalError(f"cannot read {path}: {e.strerror}") from e
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError as e:
        raise JournalError(f"{path} is not valid JSON ({e}); fix it first, nothing was changed") from e
    if not isinstance(doc, dict):
        raise JournalError(f"{path} does not hold a JSON object; nothing was changed")
    if not isinstance(doc.get("hooks", {}), dict):
        raise JournalError(f"{path}: \"hooks\" is not an object; nothing was changed")
    return doc


def _user_part(text: str) -> str | None:
    """*text*'s settings without our handlers, canonically (None if it is not a settings object)."""
    try:
        doc = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    _strip(doc)
    return _canonical(doc)


def _backup(path: Path, text: str) -> Path:
    """Keep *text* as the one backup beside *path*.

    A backup already holding the same user settings (ours aside) is kept: it is the
    user's own text, with their formatting, from before the first install.
    """
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        current = backup.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current is not None and _user_part(current) is not None and _user_part(current) == _user_part(text):
        return backup
    _write(backup, text)
    return backup


def _save(path: Path, doc: dict[str, Any], previous: str | None, text: str | None = None) -> Path | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = _backup(path, previous) if previous is not None else None
    _write(path, text if text is not None else json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return backup


def _write(path: Path, text: str) -> None:
    """Replace *path* with *text* durably (`journal.layout.write_atomic`), keeping the mode
    of the file it replaces (a new one is 0600: settings can hold the user's ``env``)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    # The directory may be a link (~/.claude kept with the dotfiles): write_atomic's
    # fsync of it must not meet the link; the file itself is replaced as before.
    write_atomic(path.parent.resolve() / path.name, text.encode("utf-8"), mode=mode)


def _canonical(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def _prior_text(path: Path, doc: dict[str, Any]) -> str | None:
    """The newest backup holding exactly *doc*: restoring its text keeps the user's formatting."""
    # The backup, then timestamped ones older versions wrote (one per run).
    backups = sorted(path.parent.glob(f"{path.name}{BACKUP_SUFFIX}*"),
                     key=lambda p: (p.name != path.name + BACKUP_SUFFIX, -p.stat().st_mtime_ns))
    wanted = _canonical(doc)
    for backup in backups:
        try:
            text = backup.read_text(encoding="utf-8")
            if _canonical(json.loads(text)) == wanted:
                return text
        except (OSError, ValueError):
            continue
    return None


def _strip(doc: dict[str, Any]) -> int:
    """Remove our handlers (and groups or events left empty); return how many went."""
    removed = 0
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return 0
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                before = len(group["hooks"])
                group["hooks"] = [h for h in group["hooks"] if not is_ours(h)]
                removed += before - len(group["hooks"])
                if not group["hooks"] and before:
                    continue
            kept_groups.append(group)
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if not hooks:
        del doc["hooks"]
    return removed


def install(path: Path) -> dict[str, Any]:
    """Add (or refresh) our handlers in the settings file at *path*."""
    doc = _load(path)
    previous = path.read_text(encoding="utf-8") if doc is not None else None
    doc = doc if doc is not None else {}
    replaced = _strip(doc)
    hooks = doc.setdefault("hooks", {})
    for event in HOOK_EVENTS:
        group: dict[str, Any] = {"hooks": [handler(event)]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        hooks.setdefault(event, []).append(group)
    backup = _save(path, doc, previous)
    return {"settings": str(path), "events": len(HOOK_EVENTS), "replaced": replaced,
            "backup": str(backup) if backup else None, "command": f"{sys.executable} -I -S {_LAUNCHER}"}


def uninstall(path: Path) -> dict[str, Any]:
    """Remove only our handlers from the settings file at *path*; leave everything else."""
    doc = _load(path)
    if doc is None:
        return {"settings": str(path), "removed": 0, "backup": None, "deleted": False}
    previous = path.read_text(encoding="utf-8")
    removed = _strip(doc)
    if not removed:
        return {"settings": str(path), "removed": 0, "backup": None, "deleted": False}
    prior = _prior_text(path, doc)
    if not doc and prior is None:
        # Only our hooks were in it: remove the file `install` created, keeping a backup.
        backup = _backup(path, previous)
        path.unlink()
        return {"settings": str(path), "removed": removed, "backup": str(backup), "deleted": True}
    saved = _save(path, doc, previous, text=prior)
    return {"settings": str(path), "removed": removed, "backup": str(saved) if saved else None, "deleted": False}
