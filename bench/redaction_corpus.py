#!/usr/bin/env python3
"""Recall and false-positive rate of redaction, end to end, on the corpus of tests/privacy.

Records every secret of ``tests/privacy/corpus_e2e.py`` (realistic fakes of every kind the
journal recognises) through a real hook run and through the ``save``, ``append`` and
``agent update`` commands, into a journal that also spools, quarantines a torn tail,
logs errors quoting payloads, stores a PreCompact capture, compacts into ``archive/``
and writes projection caches and ``context --write`` files; then greps every file of it
(gzip decompressed) for every secret, and reads back the look-alikes to count what was
changed. Prints the two figures the README quotes. Run it with the interpreter of an
environment where the package and its test dependencies are installed:

    .venv/bin/python bench/redaction_corpus.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO))  # for tests.*; journal and friends come from the installed package


def main() -> int:
    from tests.privacy.corpus_e2e import KINDS, LOOK_ALIKES, SECRETS
    from tests.privacy.test_corpus_e2e import record_corpus

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        figures = record_corpus(Path(tmp))
    print(f"corpus: {len(SECRETS)} secrets of {len(KINDS)} kinds, {len(LOOK_ALIKES)} look-alikes "
          f"({time.monotonic() - started:.0f} s)")
    for line in figures.lines():
        print(line)
    for kind, needle, where in figures.leaked:
        print(f"  LEAKED {kind}: {needle[:16]}... in {where}")
    for path, name in figures.altered:
        print(f"  CHANGED ({path}): {name}")
    print(f"RESULT recall={figures.recall:.4f} false_positive_rate={figures.false_positive_rate:.4f}")
    return 0 if not figures.leaked and figures.false_positive_rate < 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
