"""Every place the code writes a file, and why it cannot write a secret.

The scan finds each line of the installed `journal`, `projections`, `hooks` and `cli`
packages that writes (os.write, write_atomic, write_bytes/text, gzip, open for writing,
open_private/os.open with a write flag, .write(, log_error). Each must be in `WRITERS`
with the reason it is safe: it goes through the sanitiser (`journal.privacy.sanitizer`, the
Writer, `log_error`'s redaction), or it writes only data that already did (records read
back from segments), or no event-derived text at all. A new writer fails this test until
it is classified here; the end-to-end corpus (`test_corpus_e2e.py`) then checks the bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import journal

_PATTERN = re.compile(
    r"os\.write\(|write_atomic\(|\.write_bytes\(|\.write_text\(|gzip\.|\bopen\(.*[\"'][wax]b?\+?[\"']\)"
    r"|open_private\(.*O_(?:WRONLY|RDWR)|os\.open\(.*O_(?:WRONLY|RDWR)|\.write\(|log_error\("
)
_SANITISED = "the Writer sanitises every event before framing it (journal.privacy.sanitizer)"
_FROM_SEGMENTS = "bytes read back from segments, which only ever hold sanitised records"
_LOG = "errors.log: errorlog.log_error redacts every entry (message and fields) before writing"
_NO_EVENT_TEXT = "no event-derived text"

#: (file, a substring of the writing line) -> why it cannot write a recognisable secret.
WRITERS: dict[tuple[str, str], str] = {
    ("journal/storage/writer.py", "fd = open_private(tmp,"): "spool: " + _SANITISED,
    ("journal/storage/writer.py", "fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)"): "new empty segment",
    ("journal/storage/writer.py", "fd = open_private(path, os.O_RDWR | os.O_APPEND)"): "active segment: " + _SANITISED,
    ("journal/storage/writer.py", "return open_private(path, os.O_RDWR | os.O_APPEND)"): "active segment: " + _SANITISED,
    ("journal/storage/writer.py", "log_error("): _LOG,
    ("journal/layout.py", "view = view[os.write(fd, view[:_WRITE_CHUNK]) :]"): "write_all: segment lines ("
    + _SANITISED + "), and the bytes of every caller of write_all and write_atomic listed here",
    ("journal/storage/segments.py", "qfd = open_private(qpath,"): "quarantine of a torn tail: " + _FROM_SEGMENTS,
    ("journal/storage/segments.py", "log_error("): _LOG,
    ("journal/storage/archive.py", "fd = open_private(path,"): "archive gzip of removed records: " + _FROM_SEGMENTS,
    ("journal/storage/archive.py", "write_atomic(directory / index_name(name)"): "archive index: seqs, ids of sanitised records",
    ("journal/compaction/staging.py", "fd = open_private(seg.staged,"): "compacted segments: kept records " + _FROM_SEGMENTS
    + "; snapshots fold records read back from segments",
    ("journal/storage/recovery.py", "fd = open_private(active,"): "repair truncates a torn tail: " + _FROM_SEGMENTS,
    ("journal/storage/recovery.py", "write_atomic(path, data[:cut_offset])"): "repair: " + _FROM_SEGMENTS,
    ("journal/storage/recovery.py", "write_atomic(path, b\"\".join(k + b\"\\n\" for k in kept))"): "repair: " + _FROM_SEGMENTS,
    ("journal/storage/recovery.py", "log_error("): _LOG,
    ("journal/storage/crc_index.py", "write_atomic(index_path("): "CRC index: " + _NO_EVENT_TEXT,
    ("journal/layout.py", "fd = open_private(gitignore,"): ".gitignore: " + _NO_EVENT_TEXT,
    ("journal/layout.py", 'os.write(fd, b"*\\n")'): ".gitignore: " + _NO_EVENT_TEXT,
    ("journal/layout.py", "fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)"): "write_atomic's temp file",
    ("journal/layout.py", "write_atomic(os.path.join(root, MANIFEST_FILE),"): "manifest (the hook's writer): " + _NO_EVENT_TEXT,
    ("journal/storage/manifest.py", "write_atomic(root / MANIFEST_FILE,"): "manifest: " + _NO_EVENT_TEXT,
    ("journal/errorlog.py", "fd = open_private(os.path.join(root, ERROR_LOG),"): _LOG,
    ("journal/errorlog.py", "os.write(fd, line)"): _LOG,
    ("journal/storage/locking.py", "self._fd = open_private(self.path,"): "every lock file (journal.lock, ship.lock, "
    "the registry's, the search index's): " + _NO_EVENT_TEXT,
    ("hooks/housekeeping.py", "fd = open_private(lock,"): "the auto-compaction and auto-ship locks: " + _NO_EVENT_TEXT,
    ("journal/compaction/scrub.py", "out = open_private(root / ERROR_LOG,"): "scrub: errors.log lines appended meanwhile, "
    "which log_error redacted, minus the scrubbed string",
    ("journal/compaction/scrub.py", "os.write(out, new)"): "scrub (see above)",
    ("hooks/housekeeping.py", "log_error("): _LOG,
    ("journal/store.py", "log_error("): _LOG,
    ("journal/compaction/swap.py", "log_error("): _LOG,
    ("projections/cache.py", "write_atomic(ensure_subdir(root, CACHE_DIR)"): "projection caches fold events "
    + _FROM_SEGMENTS,
    ("projections/read/memory_files.py", "write_atomic(path, _redacted(text))"): "context --write files: "
    "folded from sanitised events, and redacted again before writing",
    ("projections/read/memory_files.py", "write_atomic(path, data)"): "context.write_dir files (the hooks' refresh): "
    "as context --write, redacted again by _redacted",
    ("projections/read/memory_files.py", "log_error("): _LOG,
    ("projections/compaction/compact.py", "log_error("): _LOG,
    ("projections/runner.py", "log_error("): _LOG,
    ("hooks/digest.py", "write_atomic(state_file,"): "digest state: a transcript path and offsets",
    ("hooks/main.py", "fd = os.open(env_file,"): "CLAUDE_ENV_FILE: plugin paths, outside the journal",
    ("hooks/main.py", 'os.write(fd, text.encode("utf-8"))'): "CLAUDE_ENV_FILE: plugin paths, outside the journal",
    ("hooks/main.py", "stdout.write(dumps("): "SessionStart context to Claude Code's stdout, not a file",
    ("hooks/main.py", "sys.stderr.write(message"): "stderr, not a file",
    ("hooks/main.py", "log_error("): _LOG,
    ("hooks/record.py", "log_error("): _LOG,
    ("hooks/render.py", "sys.stdout.write("): "stdout of the render child, read by the hook",
    ("hooks/runtime.py", "os.open(data_dir / _LOCK"): "the plugin venv's lock: " + _NO_EVENT_TEXT,
    ("hooks/runtime.py", 'os.open(Path(data) / "venv-install.log"'): "pip's log: " + _NO_EVENT_TEXT,
    ("hooks/runtime.py", "marker.write_text("): "the venv's ready marker: " + _NO_EVENT_TEXT,
    ("hooks/runtime.py", "fd = os.open(tmp, os.O_WRONLY"): "the interpreter hooks/launch runs: " + _NO_EVENT_TEXT,
    ("hooks/runtime.py", "os.write(fd, (python + "): "the interpreter hooks/launch runs: " + _NO_EVENT_TEXT,
    ("hooks/firings.py", "return os.open(path, os.O_RDWR | os.O_CREAT"): "hook claims: sha-256 of the stdin, times, "
    "copy ids: " + _NO_EVENT_TEXT,
    ("hooks/firings.py", "os.write(fd, data)"): "hook claims (see above)",
    ("cli/pipe.py", "os.open(os.devnull, os.O_WRONLY)"): "/dev/null, for a closed pipe",
    ("hooks/settings.py", "write_atomic(path.parent.resolve()"): "Claude Code settings and their backup: "
    + _NO_EVENT_TEXT,
    ("cli/commands/compact.py", "log_error("): _LOG,
    ("journal/registry.py", "write_atomic(path, data, durable=False)"): "journal registry: journal paths and ids, "
    + _NO_EVENT_TEXT,
    ("projections/search/index.py", "os.close(open_private(tmp,"): "search index (SQLite FTS): text folded from "
    "events " + _FROM_SEGMENTS,
    ("projections/search/index.py", "log_error("): _LOG,
    ("hooks/index_job.py", "log_error("): _LOG,
    ("hooks/codecache_write.py", "write_atomic(path, data, durable=False, mode=0o644)"): "the hook's code cache: "
    "compiled modules of this code root and the standard library (like a .pyc): " + _NO_EVENT_TEXT,
    ("hooks/render.py", "log_error("): _LOG,
    ("hooks/context_cache.py", "write_atomic(os.path.join(directory, FILE)"): "cache/context.json: the recovery "
    "context rendered from the projections (" + _FROM_SEGMENTS + ") and the stamp it is checked against",
    ("hooks/render.py", "context_cache.write(str(journal.root), entry)"): "cache/context.json (see hooks/context_cache.py)",
    ("journal/storage/archive.py", 'log_error(root, "damaged_archive"'): _LOG,
    ("journal/storage/manifest_rebuild.py", 'log_error(root, "manifest_rebuilt"'): _LOG,
    ("journal/storage/overflow.py", "return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW"): "overflow spool lock: "
    + _NO_EVENT_TEXT,
    ("journal/storage/overflow.py", "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW"):
    "overflow spool (disk full): records framed by Writer.encode, so sanitised; lost.json: counts and types",
    ("journal/shipping/state.py", "write_atomic(root / SHIP_FILE,"): "ship.json: marks and ids, " + _NO_EVENT_TEXT,
    ("journal/shipping/replicate.py", "copy.write("): "PostgreSQL COPY of records " + _FROM_SEGMENTS,
    ("cli/commands/ship.py", "log_error("): _LOG,
    ("cli/idle_ship.py", "sys.stdout.write(json.dumps(report.to_dict()"): "the idle ship's answer to stdout, not a "
    "file: seqs, the journal id and the target without its password",
    ("cli/idle_ship.py", "sys.stdout.write(nothing_to_ship(report)"): "the idle ship's answer (see above)",
}


def _write_lines() -> list[tuple[str, str]]:
    base = Path(journal.__file__).resolve().parent.parent
    found = []
    for package in ("journal", "projections", "hooks", "cli"):
        for path in sorted((base / package).rglob("*.py")):
            for line in path.read_text(encoding="utf-8").splitlines():
                text = line.strip()
                if text.startswith(("#", "def ", '"""')) or not _PATTERN.search(text):
                    continue
                found.append((str(path.relative_to(base)), text))
    return found


def test_every_writer_is_classified() -> None:
    found = _write_lines()
    assert len(found) > 30  # the scan sees the installed code
    unknown = [f"{file}: {text}" for file, text in found
               if not any(file == wfile and snippet in text for wfile, snippet in WRITERS)]
    assert not unknown, "writers not classified in tests/privacy/test_writers.py:\n" + "\n".join(unknown)


def test_every_classified_writer_still_exists() -> None:
    found = _write_lines()
    stale = [f"{file}: {snippet}" for file, snippet in WRITERS
             if not any(file == ffile and snippet in text for ffile, text in found)]
    assert not stale, "classified writers no longer in the code:\n" + "\n".join(stale)
