"""A scrub while another process appends: every appended event is kept, in order, once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from journal import Journal
from tests.compaction.observe import history
from tests.scrub.leaky import SECRET, build, leaks

APPENDER = """
import sys, time
from pathlib import Path
from journal import Journal
journal = Journal.open(sys.argv[1], create=False, durability="flush")
stop = Path(sys.argv[2])
n = 0
while not stop.exists() or n < 50:
    n += 1
    journal.append("note", {"text": "concurrent", "n": n}, session="appender")
    time.sleep(0.0005)
print(n)
"""


def test_an_appender_running_through_a_scrub_loses_nothing(tmp_path: Path) -> None:
    build(tmp_path / "src")
    root = tmp_path / "journal"
    shutil.copytree(tmp_path / "src", root)
    journal = Journal.open(root, create=False, durability="flush")
    before = history(journal)
    stop = tmp_path / "stop"
    child = subprocess.Popen([sys.executable, "-c", APPENDER, str(root), str(stop)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while journal.last_seq() < before[-1][0] + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        result = journal.scrub(SECRET)
        during = journal.last_seq()
    finally:
        stop.touch()
        out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    appended = int(out)
    assert result.committed and result.verify_ok
    assert during > before[-1][0] + 20, "the appender was not running during the scrub"

    report = journal.verify()
    assert report.ok, report.to_dict()
    events = list(journal.read())
    mine = [e.payload()["n"] for e in events if e.session == "appender"]
    assert mine == list(range(1, appended + 1)), "an appended event was lost, duplicated or reordered"
    seqs = [e[0] for e in history(journal)]
    assert seqs == list(range(1, seqs[-1] + 1))
    assert [e.type for e in events].count("journal.scrubbed") == 1
    assert leaks(root) == []
