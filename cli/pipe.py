"""A closed stdout (``agent-journal log | head``): quiet, not an error. Stdlib only: the
idle ship answers before click loads (`cli.idle_ship`), and the group uses it too."""

from __future__ import annotations

import os
import sys

__all__ = ["quiet_stdout"]


def quiet_stdout() -> None:
    """Point stdout at /dev/null: its reader is gone, and the final flush must not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
