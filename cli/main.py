"""The ``agent-journal`` entry point: the idle ``ship`` fast path, then the click group.

SessionEnd starts a detached ``agent-journal ship --auto`` after every session once
shipping is set up, and most of those runs find nothing to ship: `cli.idle_ship`
answers them from two small files and the journal's tail, before click and the
commands are imported (a few ms instead of a few hundred). Everything else goes to the
command group in `cli.group`, loaded on first use; ``cli.main.cli`` and
``cli.main.JournalContext`` still name it.
"""

from __future__ import annotations

import sys

from cli.project import project_dir

TYPE_CHECKING = False  # no typing at run time: this module is on the idle ship's path
if TYPE_CHECKING:
    from typing import Any

    from cli.group import COMMAND_MODULES, JournalContext, cli

__all__ = ["COMMAND_MODULES", "JournalContext", "cli", "main", "project_dir"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: click's contract (`cli.group.run`), unless `cli.idle_ship` answers."""
    args = sys.argv[1:] if argv is None else argv
    if "ship" in args:
        from cli.idle_ship import answer

        code = answer(args)
        if code is not None:
            sys.exit(code)
    from cli.group import run

    run(args)


def __getattr__(name: str) -> Any:
    """``cli`` and ``JournalContext``: the click side, imported when first asked for."""
    if name in ("cli", "JournalContext", "COMMAND_MODULES"):
        from cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
