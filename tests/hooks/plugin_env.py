"""Helpers for the plugin tests: a ready private environment without pip, the wrapper's argv."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

from tests.e2e.claude import REPO_ROOT

#: The plugin's ``bin/agent-journal`` in the checkout (what Claude Code puts on the Bash tool's PATH).
WRAPPER = REPO_ROOT / "bin" / "agent-journal"
#: The interpreter the venv is made from: the base one, which cannot import msgspec by itself.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def make_ready_venv(data_dir: Path) -> Path:
    """``data_dir/venv`` as `hooks.runtime.create_env` leaves it, in a fraction of a second.

    Instead of pip installing the pinned packages, a ``.pth`` file points at the test
    environment's site-packages (which hold the same packages).
    """
    venv = data_dir / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    [lib] = (venv / "lib").glob("python3*")
    (lib / "site-packages" / "test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    (venv / ".agent-journal-ready").write_text((REPO_ROOT / "hooks" / "requirements.lock").read_text())
    return venv
