"""``agent-journal ship`` with nothing pending, answered before click and the commands load.

Once shipping is set up, SessionEnd starts a detached ``agent-journal ship --auto``
after every session, and most of those runs find nothing to do. `answer` reads the few
options such a run takes (``--journal``, ``--to``, ``--auto``, ``--json``), asks
`journal.shipping.state.idle_report`, and prints what the ship command prints. Anything
else returns None and the full command runs: another option, no target, a journal that
is missing, refused or has a config problem, a manifest that does not parse, a last
run that failed or went to another target (the full run records the outcome under the
lock). A manifest only the full schema check would refuse is rebuilt by the next
command that opens the journal, not by this answer. Stdlib and the journal's light
modules only.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time

from cli.pipe import quiet_stdout
from cli.project import project_dir

TYPE_CHECKING = False  # no typing at run time: this module is on the idle ship's path
if TYPE_CHECKING:
    from journal.shipping.state import ShipReport

__all__ = ["MIGRATED", "answer", "nothing_to_ship"]

#: The schema versions ``agent-journal ship`` migrates to (`journal.shipping.schema.versions` with the
#: views migration of `projections.read.warehouse`); tests/ship holds them equal, since importing the
#: views here would cost what this module saves. Were they to differ, ``ship.json`` would never match
#: and every run would take the full path: slower, never wrong.
MIGRATED = "core:1,views:1"


def nothing_to_ship(report: ShipReport) -> str:
    """The line ``agent-journal ship`` prints when there was nothing to ship."""
    return f"Nothing to ship: {report.target} has every event up to seq {report.shipped_seq:,}."


def _options(args: list[str]) -> tuple[str | None, str | None, bool, bool] | None:
    """(journal dir, url, auto, json) of ``[--journal DIR] ship [--to URL] [--auto] [--json]``, else None."""
    journal_dir = url = None
    auto = as_json = False
    i = 0
    while i < len(args) and args[i] != "ship":
        if args[i] == "--journal" and i + 1 < len(args):
            journal_dir, i = args[i + 1], i + 2
        elif args[i].startswith("--journal="):
            journal_dir, i = args[i][len("--journal="):], i + 1
        else:
            return None
    if i == len(args):
        return None
    i += 1
    while i < len(args):
        if args[i] == "--to" and i + 1 < len(args):
            url, i = args[i + 1], i + 2
        elif args[i].startswith("--to="):
            url, i = args[i][len("--to="):], i + 1
        elif args[i] in ("--auto", "--json"):
            auto |= args[i] == "--auto"
            as_json |= args[i] == "--json"
            i += 1
        else:
            return None
    return journal_dir, url, auto, as_json


def _idle(journal_dir: str | None, url: str | None) -> ShipReport | None:
    from journal import Journal, load_config, resolve_journal_dir
    from journal.layout import check_journal_dir
    from journal.shipping.state import (
        idle_report,
        read_ship_state,
        ship_policy,
        target_key,
    )

    # As the group resolves it: --journal, else AGENT_JOURNAL_DIR (click ignores it empty), else the project.
    path = resolve_journal_dir(journal_dir or os.environ.get("AGENT_JOURNAL_DIR") or None, project_dir=project_dir())
    if not os.path.isdir(path):
        return None
    check_journal_dir(path)
    config = load_config(path)
    url = url or ship_policy(config).url
    if not url:
        return None
    state = read_ship_state(path)
    if state.get("last_error") or state.get("last_target") != target_key(url):
        return None
    return idle_report(Journal(path, config), url, MIGRATED, state)


def answer(args: list[str]) -> int | None:
    """The exit code of an idle ``ship`` run by *args*, after printing its answer; None to run the command."""
    options = _options(args)
    if options is None:
        return None
    journal_dir, url, auto, as_json = options
    started = time.monotonic()
    try:
        report = _idle(journal_dir, url)
    except Exception:  # noqa: BLE001 - whatever it is, the full command reports it properly
        return None
    if report is None:
        return None
    report.seconds = time.monotonic() - started
    try:
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
        elif not auto:
            sys.stdout.write(nothing_to_ship(report) + "\n")
        sys.stdout.flush()
    except OSError as e:  # `agent-journal ship | head -0`: quiet, as the group is
        if e.errno != errno.EPIPE:
            raise
        quiet_stdout()
    return 0
