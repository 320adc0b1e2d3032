"""The file-writing primitives every module shares: `write_all`, `write_atomic`, and the
record check `check_lines` / `check_line`."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from journal import layout
from journal.layout import write_all, write_atomic
from journal.storage.codec import check_line, check_lines, encode_record

SEED = 1207


def test_write_all_survives_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    calls = []

    def short(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data)[:7])

    data = os.urandom(3 * 1024 * 1024 + 5)
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    monkeypatch.setattr(layout.os, "write", short)
    try:
        write_all(fd, data[:100])
    finally:
        monkeypatch.undo()
    write_all(fd, data[100:])
    os.close(fd)
    assert (tmp_path / "f").read_bytes() == data
    assert len(calls) == 15  # 100 bytes, 7 at a time


def test_write_all_hands_os_write_at_most_one_mib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = []
    real_write = os.write
    monkeypatch.setattr(layout.os, "write", lambda fd, data: sizes.append(len(data)) or real_write(fd, data))
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    write_all(fd, b"x" * (2 * 1024 * 1024 + 1))
    os.close(fd)
    assert sizes == [1024 * 1024, 1024 * 1024, 1]


@pytest.mark.parametrize("durable", [True, False])
def test_write_atomic_replaces_whole_and_fsyncs_only_when_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"old")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(layout.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    write_atomic(path, b"new", durable=durable)
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["f.json"]
    assert len(synced) == (2 if durable else 0)  # the file, then its directory
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_atomic_gives_the_mode_asked(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "settings.json", b"{}", mode=0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o644


def test_a_failed_write_atomic_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def full(fd: int, data: bytes | memoryview) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(layout.os, "write", full)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f"]


def test_check_line_and_check_lines_agree_on_every_flipped_byte() -> None:
    rng = random.Random(SEED)
    good = [encode_record(i, "2026-12-07T10:00:00.000000Z", "t", b'{"text":"%d"}' % i, session="s")[:-1]
            for i in range(1, 30)]
    assert check_lines(good) and all(check_line(line) for line in good)
    for trial in range(400):
        lines = list(good)
        i = rng.randrange(len(lines))
        at = rng.randrange(len(lines[i]))
        flipped = bytearray(lines[i])
        flipped[at] ^= 1 << rng.randrange(8)
        lines[i] = bytes(flipped)
        assert not check_line(lines[i]), f"seed {SEED}, trial {trial}: byte {at} of line {i}"
        assert not check_lines(lines), f"seed {SEED}, trial {trial}"
    for bad in (b"", b'{"seq":1}', b',"crc":"00000000"}', good[0][:-1], good[0] + b" ", good[0].upper()):
        assert not check_line(bad) and not check_lines([*good, bad]), bad


def test_remembered_types_and_ids_encode_as_the_first_time() -> None:
    """Types and ids are encoded once and remembered: the bytes are the same, a bad type is
    refused every time, and the memory stays bounded."""
    from journal.errors import InvalidEvent
    from journal.storage import codec

    ts = "2026-12-07T10:00:00.000000Z"
    first = encode_record(1, ts, "Pre\u00e9Tool", b"{}", session="s\u00e9\"1", agent="a\\b")
    assert encode_record(1, ts, "Pre\u00e9Tool", b"{}", session="s\u00e9\"1", agent="a\\b") == first
    assert first.startswith(b'{"seq":1,"ts":"%s","type":"Pre\xc3\xa9Tool","session":"s\xc3\xa9\\"1","agent":"a\\\\b"'
                            % ts.encode())
    assert check_line(first[:-1])
    for _ in range(2):
        with pytest.raises(InvalidEvent, match="invalid event type"):
            encode_record(1, ts, "has space", b"{}")
    for i in range(3 * codec._REMEMBERED):
        encode_record(1, ts, f"t{i}", b"{}", session=f"s{i}")
    assert len(codec._TYPES) <= codec._REMEMBERED and len(codec._IDS) <= codec._REMEMBERED


def test_now_ts_moves_from_second_to_second() -> None:
    import time

    from journal.storage.codec import now_ts

    for ns in (0, 999_999_999, 1_000_000_000, 1_765_100_000_123_456_789, 1_765_100_001_000_001_000):
        sec, rem = divmod(ns, 1_000_000_000)
        assert now_ts(ns) == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % (rem // 1000)
    assert now_ts(1_000_000_000) == "1970-01-01T00:00:01.000000Z"
    assert now_ts(999_999_999) == "1970-01-01T00:00:00.999999Z"
