"""The CRC-32 behind every record: ISA-L's when installed, zlib's in the hook, always the same values."""

from __future__ import annotations

import subprocess
import sys
import zlib

from hypothesis import given
from hypothesis import strategies as st

from journal.storage import codec
from journal.storage.codec import check_line, encode_data, encode_record
from tests.paths import REPO_ROOT


@given(st.binary(max_size=5000), st.integers(min_value=0, max_value=2**32 - 1), st.integers(0, 64))
def test_crc32_is_zlibs_function(data: bytes, start: int, cut: int) -> None:
    assert codec.crc32(data) == zlib.crc32(data)
    assert codec.crc32(data, start) == zlib.crc32(data, start)
    view = memoryview(data)[cut:]  # readers hand over slices of a read buffer
    assert codec.crc32(view) == zlib.crc32(bytes(view))


def test_the_installed_package_reads_with_isal() -> None:
    # A dependency of the package: without it every read pays 4-12x for its checks.
    assert codec.crc32.__module__.startswith("isal"), codec.crc32


_HOOK_SIDE = """
import sys
sys.path.insert(0, sys.argv[1])
from journal.storage import codec
line = bytes.fromhex(sys.argv[2])
print(codec.crc32.__module__, codec.check_line(line))
sys.stdout.write(codec.encode_record(2, "2026-11-25T12:00:00.000000Z", "Hook", b'{"x":"\\u00e9"}', session="s").hex())
"""


def test_hook_interpreter_falls_back_to_zlib_and_agrees() -> None:
    # The hook runs `python3 -I -S` (no site-packages, so no isal): its records must
    # check here, and ours there.
    ours = encode_record(1, "2026-11-25T12:00:00.000000Z", "Reader", encode_data({"y": "ü" * 300}), session="s")
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", _HOOK_SIDE, str(REPO_ROOT), ours[:-1].hex()],
                          capture_output=True, text=True, check=True, timeout=60)
    first, theirs = proc.stdout.split("\n", 1)
    module, verdict = first.split()
    assert module == "zlib" and verdict == "True"
    line = bytes.fromhex(theirs)
    assert line.endswith(b"\n") and check_line(line[:-1])
    digit = b"1" if line[-4:-3] != b"1" else b"2"  # the last CRC digit, before '"}' and the newline
    assert not check_line(line[:-4] + digit + line[-3:-1])
