"""Incremental transcript digests for the Stop hook.

Each Stop reads only the transcript bytes added since the previous digest of that
session (the byte offset is kept in the event and, for speed, in a small state file
inside the journal's ``cache/``), and extracts what the session is working on, the
decisions it stated, the files it modified and its topics. A 100 MB transcript is
never re-read from the start; with no saved offset only its last few MiB are read.

Every text is redacted (*scrub*, the journal's redactor) before anything is taken from
it: a topic is one word and a decision or a prompt is cut to a length, and either could
carry a piece of a secret that only its whole context (``password=hunter2``, a key cut
in half) shows to be one, which the redaction of the finished event could no longer see.

The transcript format is internal to Claude Code and changes between releases, so
every field is read defensively: an unknown shape is skipped, never an error.
Stdlib only, and no `re` or `collections` (they would cost a Stop hook ~9 ms to import):
words, sentences and decisions are found with C-level string operations, which give
what ``[A-Za-z][A-Za-z0-9_-]{3,}``, ``(?<=[.!?])\\s+|\\n+`` and ``\\b(decided|...)\\b``
(case-insensitive) give, exotic case pairs aside (``ſ``, ``ı``, the Kelvin sign).
"""

from __future__ import annotations

import os
from stat import S_ISREG

from journal.cjson import dumps, loads

try:  # hashlib would load OpenSSL first (~2.5 ms of a hook); BLAKE2 is built in (and loaded: hooks.firings)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python implementation
    from hashlib import blake2b

TYPE_CHECKING = False  # no typing at run time: this runs in the Stop hook
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

__all__ = ["digest_transcript", "extract"]

#: With no saved offset, read at most this much of the end of a transcript.
FIRST_READ_MAX = 4 * 1024 * 1024
#: Never read more than this in one Stop (a huge burst is digested by its tail).
READ_MAX = 16 * 1024 * 1024
_EDIT_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path", "NotebookEdit": "notebook_path"}
#: A sentence holding one of these as whole words, in any case, states a decision.
_DECISIONS = (
    "decided", "decide to", "decision", "chose", "choosing", "going with", "will use", "i'll use", "we'll use",
    "opted", "settled on", "instead of", "plan is", "approach is",
)  # fmt: skip
#: Bytes of a word ([A-Za-z0-9_-]) kept, every other byte made a space.
_WORD_BYTES = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_-") else 32 for c in range(256))
_STOP = frozenset(
    """this that with from have will would could should there their they them then than what when where which
    while about into your yours just also only some more most make made does done doing been being were here
    very like want need please file files code line lines using used use okay sure thanks thank now let lets
    can't don't it's i'll we'll you'll after before again each other such these those because over under
    first last next back still well take give show tell look run write read added adds update updated""".split()
)


def _text_blocks(content: Any) -> Iterable[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                yield block["text"]


def _words(text: str) -> list[str]:
    """The lowercased words of *text*: a letter then 3 or more of [A-Za-z0-9_-], ASCII only."""
    out = []
    for run in text.encode("ascii", "replace").translate(_WORD_BYTES).split():
        run = run.lstrip(b"0123456789_-")  # a word starts at the run's first letter
        if len(run) >= 4:
            out.append(run.decode("ascii").lower())
    return out


def _sentences(text: str) -> list[str]:
    """*text* split after ".", "!" or "?" followed by whitespace, and at runs of newlines."""
    out = []
    start = i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\n" or (c.isspace() and i and text[i - 1] in ".!?"):
            j = i + 1
            if c == "\n" and not (i and text[i - 1] in ".!?"):
                while j < n and text[j] == "\n":
                    j += 1
            else:
                while j < n and text[j].isspace():
                    j += 1
            out.append(text[start:i])
            start = i = j
        else:
            i += 1
    out.append(text[start:])
    return out


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _states_decision(sentence: str) -> bool:
    """True if *sentence* holds one of `_DECISIONS` as whole words (any case)."""
    low = sentence.translate(_ASCII_LOWER)  # the phrases are ASCII; positions must not move
    n = len(low)
    for phrase in _DECISIONS:
        at = low.find(phrase)
        while at >= 0:
            end = at + len(phrase)
            if (not at or not _is_word_char(low[at - 1])) and (end == n or not _is_word_char(low[end])):
                return True
            at = low.find(phrase, at + 1)
    return False


def _count(words: dict[str, int], found: list[str]) -> None:
    for word in found:
        words[word] = words.get(word, 0) + 1


#: How the redactor marks what it removed (``[REDACTED:kind:hash]``): no topic is taken from a marker.
_MARKER = "[REDACTED:"


def _unmarked(text: str) -> str:
    """*text* without its redaction markers (their words are the redactor's, not the session's)."""
    at = text.find(_MARKER)
    while at >= 0:
        end = text.find("]", at)
        if end < 0:
            return text[:at]
        text = text[:at] + " " + text[end + 1 :]
        at = text.find(_MARKER, at)
    return text


def extract(lines: Iterable[bytes], scrub: Callable[[str], str]) -> dict[str, Any]:
    """Digest transcript JSON lines: working_on, decisions, files, topics.

    Each prompt, reply and edited path goes through *scrub* (the journal's redaction)
    first, whole, before it is cut into words and sentences or shortened.
    """
    prompts: list[str] = []
    decisions: list[str] = []
    files: list[str] = []
    words: dict[str, int] = {}
    last_text = ""
    for raw in lines:
        if not raw:
            continue  # (an invalid line costs an import of json for the error)
        try:
            record = loads(raw)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("isMeta") or record.get("isCompactSummary"):
            continue
        kind = record.get("type")
        message = record.get("message")
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if kind == "user":
            for text in _text_blocks(content):
                text = text.strip()
                if text and not text.startswith("<"):
                    text = scrub(text)
                    prompts.append(text)
                    _count(words, _words(_unmarked(text)))
        elif kind == "assistant" and isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    last_text = scrub(block["text"].strip())
                    _count(words, _words(_unmarked(last_text)))
                    for sentence in _sentences(last_text):
                        if _states_decision(sentence) and sentence.strip():
                            decisions.append(sentence.strip()[:240])
                elif block.get("type") == "tool_use" and block.get("name") in _EDIT_TOOLS:
                    tool_input = block.get("input")
                    path = tool_input.get(_EDIT_TOOLS[block["name"]]) if isinstance(tool_input, dict) else None
                    if isinstance(path, str):
                        path = scrub(path)
                        if path not in files:
                            files.append(path)
    working_on = prompts[-1] if prompts else (_sentences(last_text)[0] if last_text else "")
    for path in files:
        name = os.path.basename(_unmarked(path)).strip().lower()
        if name:
            words[name] = words.get(name, 0) + 2
    topics = [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if w not in _STOP][:8]
    return {
        "working_on": working_on[:300],
        "decisions": decisions[-5:],
        "files": files[-50:],
        "topics": topics,
    }


def _state_path(state_dir: str, session: str) -> str:
    # Hashed: a session id never becomes a path component.
    name = "digest-" + blake2b(session.encode("utf-8", "replace"), digest_size=12).hexdigest() + ".json"
    return os.path.join(state_dir, name)


def _legacy_state_path(state_dir: str, session: str) -> str:
    """Where versions before the BLAKE2 name kept the state (read on a session's first Stop only)."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # built in (hashlib would load OpenSSL)
    except ImportError:  # pragma: no cover - another Python implementation
        from hashlib import sha256

    name = "digest-" + sha256(session.encode("utf-8", "replace")).hexdigest()[:24] + ".json"
    return os.path.join(state_dir, name)


def digest_transcript(state_dir: str | os.PathLike[str], session: str, transcript: str,
                      scrub: Callable[[str], str]) -> dict[str, Any] | None:
    """Digest what *transcript* gained since the last call for *session*; None if nothing new.

    *scrub* redacts one text (the journal's `journal.privacy.sanitizer.Sanitizer.text`): the
    digest is made of redacted text only.
    """
    from journal.errors import JournalError
    from journal.layout import ensure_subdir, read_private, write_atomic

    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(transcript, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    try:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            return None  # a directory, FIFO or device is not a transcript
        state_file = _state_path(os.fspath(state_dir), session)
        offset = None
        for path in (state_file, None):
            try:
                saved = loads(read_private(path or _legacy_state_path(os.fspath(state_dir), session)))
                if saved.get("ino") == st.st_ino and saved.get("transcript") == transcript:
                    offset = int(saved["offset"])
                break
            except FileNotFoundError:
                continue  # none under this name: an older version's, then none at all
            except (OSError, ValueError, TypeError, KeyError, AttributeError, JournalError):
                break  # no usable state (a planted link is not followed; write_atomic replaces it)
        if offset is None or offset > st.st_size:
            # No usable saved offset (first Stop, or the file was replaced): its tail only.
            offset = max(0, st.st_size - FIRST_READ_MAX)
        start = max(offset, st.st_size - READ_MAX)
        # One byte before `start` tells whether we begin at a line boundary.
        lead = max(0, start - 1)
        data = os.pread(fd, st.st_size - lead, lead)
    finally:
        os.close(fd)
    if start > 0:
        data = data[1:] if data[:1] == b"\n" else data[data.find(b"\n") + 1 :]
        start = st.st_size - len(data)
    end = data.rfind(b"\n") + 1
    if end == 0:
        return None
    body = data[:end]
    result = extract(body.split(b"\n"), scrub)
    new_offset = start + end
    try:
        state_path = os.path.dirname(state_file)  # the journal's cache/
        ensure_subdir(os.path.dirname(state_path), os.path.basename(state_path))
        state = {"transcript": transcript, "ino": st.st_ino, "offset": new_offset}
        # Not durable: a state file lost in a power cut costs one re-read of the tail (and the
        # event keeps the offset); two fsyncs cost every Stop ~0.5 ms of CPU.
        write_atomic(state_file, dumps(state).encode(), durable=False)
    except OSError:
        pass
    return {"transcript": transcript, "from": start, "to": new_offset, **result}

