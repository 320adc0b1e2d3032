"""Only the modules the hook imports may bend Python for its speed.

The hook runs on every tool call, so the modules it imports avoid ``typing`` and
``dataclasses`` at run time (``TYPE_CHECKING = False``, hand-written ``__eq__`` and
``__repr__``). Every other module is ordinary Python. This test finds what the hook
imports by running the launcher with ``-X importtime`` over a real session's payloads,
and fails when a module outside that set keeps the trick (or the hook stops importing one).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hooks.launch
from tests.hooks.support import LAUNCHER, HookEnv, compact, fixture_payloads

PACKAGES = ("journal", "projections", "hooks", "cli")
CODE_ROOT = Path(hooks.launch.__file__).resolve().parent.parent
#: Modules the hook imports on paths this pip-install run does not take.
ON_OTHER_PATHS = {
    "hooks.launch",  # the script itself (run as __main__)
    "hooks.runtime",  # the plugin's hooks: finding the rendering environment (msgspec is not on their path)
    "hooks.interpreter",  # the plugin's SessionEnd: the interpreter for its detached jobs
    "journal.privacy.pattern_safety",  # a config.json with redaction.patterns
    "journal.shipping.state",  # SessionEnd with shipping configured
    # Not the hook, but the process SessionEnd starts after every session once shipping is set
    # up: an idle `agent-journal ship` answers before click loads, so it keeps the hook's rule.
    "cli.main",
    "cli.idle_ship",
}
_IMPORTED = re.compile(r"^import time:.*\|\s+((?:journal|projections|hooks|cli)(?:\.\w+)*)$", re.MULTILINE)


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((CODE_ROOT / package).rglob("*.py")):
            parts = path.relative_to(CODE_ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _bends_python(path: Path) -> list[str]:
    """What in *path* is there only for the hook's import time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["TYPE_CHECKING"]
                and isinstance(node.value, ast.Constant) and node.value.value is False):
            found.append("TYPE_CHECKING = False")
        if isinstance(node, ast.ClassDef):
            dunders = {f.name for f in node.body if isinstance(f, ast.FunctionDef)} & {"__eq__", "__repr__"}
            if dunders and not any("dataclass" in ast.unparse(d) for d in node.decorator_list):
                found.append(f"{node.name}.{'/'.join(sorted(dunders))}")
    return found


@pytest.mark.slow
def test_only_modules_the_hook_imports_avoid_typing_and_dataclasses(hook_env: HookEnv) -> None:
    imported: set[str] = set()
    for payload in fixture_payloads():  # a real session, SessionStart to SessionEnd
        proc = subprocess.run([sys.executable, "-X", "importtime", "-I", "-S", str(LAUNCHER)],
                              input=compact(payload), capture_output=True, env=hook_env.env(),
                              cwd=hook_env.cwd, timeout=60)
        assert proc.returncode == 0
        imported |= set(_IMPORTED.findall(proc.stderr.decode("utf-8", "replace")))
    assert {"hooks.record", "journal.storage.writer", "hooks.render"} <= imported  # the parse sees the hook
    bent = {name: what for name, path in _modules().items() if (what := _bends_python(path))}
    assert bent, "the scan finds nothing: it cannot fail"
    elsewhere = {name: what for name, what in bent.items() if name not in imported and name not in ON_OTHER_PATHS}
    assert elsewhere == {}, "not imported by the hook, so ordinary Python (typing, dataclasses) fits"
