"""A process's start time (`journal.procstat`), which the hook records and the projections
and the stored-context check compare, and the durations both print (`journal.durations`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from journal.durations import format_duration
from journal.procstat import probe, stat_fields

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


def _start_field(pid: int) -> str:
    """Field 22 of /proc/PID/stat, read independently (comm is field 2, in parentheses)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
        raw = f.read()
    return raw[raw.rfind(")") + 2:].split()[19]


def test_a_live_process_is_its_start_time_and_a_gone_one_is_none() -> None:
    assert probe(os.getpid()) == _start_field(os.getpid())
    child = subprocess.Popen(["sleep", "30"])
    try:
        start = probe(child.pid)
        assert start == _start_field(child.pid) and start
    finally:
        child.kill()
        child.wait()
    assert probe(child.pid) is None
    assert stat_fields(child.pid) is None


def test_a_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    code = ("import sys, time\nwith open('/proc/self/comm', 'w') as f: f.write('a) (b c')\n"
            "print('ready', flush=True)\ntime.sleep(30)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        info = stat_fields(child.pid)
        assert info is not None and info[0] == "a) (b c"
        assert info[1][1] == str(os.getpid())  # field 4: the parent
        assert probe(child.pid) == info[1][19] != ""
    finally:
        child.kill()
        child.communicate()


@pytest.mark.parametrize("seconds,text", [
    (-5, "0s"), (0, "0s"), (45.9, "45s"), (60, "1m00s"), (125, "2m05s"), (599, "9m59s"), (600, "10m"),
    (720, "12m"), (3599, "59m"), (3600, "1h00m"), (11100, "3h05m"), (86399, "23h59m"), (86400, "1d0h"),
    (187200, "2d4h"),
])
def test_durations_are_short_and_exact(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
