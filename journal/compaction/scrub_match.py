"""What `journal.compaction.scrub` looks for and how it rewrites one record line or one text file.

A `Matcher` is one leaked secret (a literal string of at least 4 characters) or one
regular expression. It replaces each occurrence by a redaction marker of the same form
`journal.privacy.redaction` writes, ``[REDACTED:<kind>:<8 hex of its sha256>]`` (kind
``scrubbed``), so two mentions of one secret still correlate.

JSON escaping may change how a secret appears inside a record (``\\u0073k-...``, ``\\/``,
``\\"``), so a record is matched on its decoded string values: each JSON string token of
the payload (keys and values) and the ``type``, ``session`` and ``agent`` values of the
envelope is decoded, scrubbed, and, only if it changed, encoded again; every other byte
of the line stays as it was, and the line gets a new CRC. Seq, timestamp and the
envelope's own keys are never touched. A cheap prefilter keeps the decoding to lines
that may hold the secret. Files that are not records (``errors.log``, torn tails in
``quarantine/``, written context files) are scrubbed as text: string tokens first, then
the secret's raw and JSON-escaped forms anywhere. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import re
from journal.storage.codec import CRC_SUFFIX_LEN, check_line, frame
from journal.errors import JournalError

__all__ = ["ScrubError", "Matcher", "MIN_SECRET_CHARS", "SCRUB_KIND"]

#: The shortest literal secret scrub accepts: shorter ones would hit ordinary words.
MIN_SECRET_CHARS = 4
#: The kind in the markers scrub writes.
SCRUB_KIND = "scrubbed"

# A JSON string token (unrolled: linear time, no backtracking).
_TOKEN = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_HEAD_VALUE = re.compile(rb'"(?:type|session|agent)":"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_DATA_KEY = b',"data":'


class ScrubError(JournalError):
    """A scrub cannot run: a bad secret or pattern, or a journal it must not rewrite as it is."""


def _dump(text: str) -> bytes:
    """*text* as a JSON string token, compact and UTF-8 (the codec's encoding)."""
    try:
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it escaped
        return json.dumps(text, ensure_ascii=True).encode("ascii")


class Matcher:
    """One secret (*text*) or one regular expression (*pattern*) and its replacement."""

    def __init__(self, text: str | None = None, *, pattern: str | None = None, kind: str = SCRUB_KIND,
                 salt: str = "") -> None:
        if (text is None) == (pattern is None):
            raise ScrubError("give either the secret STRING or --pattern REGEX, not both and not neither")
        self.kind = kind
        self._salt = salt + "\0" if salt else ""
        self.text = text
        self.regex: re.Pattern[str] | None = None
        if text is not None:
            if len(text.strip()) < MIN_SECRET_CHARS:
                raise ScrubError(
                    f"the secret must be at least {MIN_SECRET_CHARS} characters (not counting surrounding "
                    f"spaces), got {len(text.strip())}: a shorter string would hit ordinary text"
                )
            raw = text.encode("utf-8", "surrogatepass")
            # How the secret can appear in bytes: as is, and JSON-escaped (both ways).
            self.forms = sorted({raw, json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")[1:-1],
                                 json.dumps(text, ensure_ascii=True).encode("ascii")[1:-1]}, key=len, reverse=True)
            self._slash = "/" in text
        else:
            assert pattern is not None
            if not pattern:
                raise ScrubError("the --pattern REGEX is empty")
            try:
                self.regex = re.compile(pattern)
            except re.error as e:
                raise ScrubError(f"invalid --pattern {pattern!r}: {e}") from None
            if self.regex.search("") is not None:
                raise ScrubError(f"--pattern {pattern!r} matches the empty string; it would mark every position")
            self.forms = []

    @property
    def mode(self) -> str:
        return "string" if self.text is not None else "pattern"

    def marker(self, secret: str) -> str:
        """``[REDACTED:<kind>:<hash8>]`` for *secret*, as `journal.privacy.redaction` writes it."""
        digest = hashlib.sha256((self._salt + secret).encode("utf-8", "surrogatepass")).hexdigest()
        return f"[REDACTED:{self.kind}:{digest[:8]}]"

    # -- strings ------------------------------------------------------------------------

    def sub(self, value: str) -> tuple[str, int]:
        """*value* with every occurrence replaced, and how many there were."""
        if self.regex is None:
            assert self.text is not None
            n = value.count(self.text)
            return (value.replace(self.text, self.marker(self.text)), n) if n else (value, 0)
        count = 0

        def repl(m: re.Match[str]) -> str:
            nonlocal count
            found = m.group(0)
            if not found:
                return found
            count += 1
            return self.marker(found)

        out = self.regex.sub(repl, value)
        return out, count

    def found_in(self, value: str) -> bool:
        if self.regex is None:
            assert self.text is not None
            return self.text in value
        return any(m.group(0) for m in self.regex.finditer(value))

    # -- bytes ------------------------------------------------------------------------------

    def may_hold(self, line: bytes) -> bool:
        """False only if no decoded string of the JSON *line* can hold a match (a cheap test)."""
        if self.regex is not None:
            if b"\\" in line:
                return True  # escapes may hide or make a match: decode its tokens
            return self.found_in(line.decode("utf-8", "replace"))
        if any(form in line for form in self.forms):
            return True
        # \uXXXX can spell any character, \/ a slash; without them the forms are exact.
        return b"\\u" in line or (self._slash and b"\\/" in line)

    def held_in(self, data: bytes) -> bool:
        """True if *data* holds the secret in a form ``grep`` finds (raw or JSON-escaped)."""
        if self.regex is None:
            return any(form in data for form in self.forms)
        return self.found_in(data.decode("utf-8", "replace"))

    def _token(self, inner: bytes) -> tuple[bytes, int] | None:
        """The scrubbed token for the inside of a JSON string token, or None if unchanged."""
        if b"\\" in inner:
            try:
                value = json.loads(b'"' + inner + b'"')
            except ValueError:
                return None
        else:
            try:
                value = inner.decode("utf-8")
            except UnicodeDecodeError:
                return None
        new, n = self.sub(value)
        return (_dump(new), n) if n else None

    def _tokens(self, text: bytes, pattern: re.Pattern[bytes]) -> tuple[bytes, int]:
        count = 0

        def repl(m: re.Match[bytes]) -> bytes:
            nonlocal count
            done = self._token(m.group(1))
            if done is None:
                return m.group(0)
            count += done[1]
            start, end = m.span(1)
            return m.group(0)[: start - m.start() - 1] + done[0] + m.group(0)[end - m.start() + 1 :]

        return pattern.sub(repl, text), count

    def scrub_record(self, line: bytes) -> tuple[bytes, int] | None:
        """A framed record (without ``\\n``) with the secret replaced and a new CRC, and the
        count; None if it holds no occurrence."""
        if not self.may_hold(line):
            return None
        body = line[:-CRC_SUFFIX_LEN]
        at = body.find(_DATA_KEY)
        if at < 0:
            return None
        head, payload = self._tokens(body[:at], _HEAD_VALUE)
        data, n = self._tokens(body[at:], _TOKEN)
        count = payload + n
        if not count:
            return None
        return frame(head + data), count

    def scrub_text(self, data: bytes, *, records: bool = False, json_lines: bool = True) -> tuple[bytes, int, int]:
        """*data* scrubbed line by line: ``(new bytes, lines changed, occurrences)``.

        With *records*, a line that is a valid record gets `scrub_record` (a new CRC, so
        a damaged record stays damaged); any other line is scrubbed as text: with
        *json_lines* its JSON string tokens first, then the raw forms anywhere.
        """
        if not self.held_in(data) and not (b"\\" in data and self._escaped_risk(data)):
            return data, 0, 0
        lines = data.split(b"\n")
        changed = occurrences = 0
        for i, line in enumerate(lines):
            if not line:
                continue
            done = self.scrub_record(line) if records and check_line(line) else None
            if done is not None:
                lines[i], n = done
            else:
                new, n = self._tokens(line, _TOKEN) if json_lines and b'"' in line else (line, 0)
                new, m = self._raw(new)
                lines[i], n = new, n + m
            if n:
                changed += 1
                occurrences += n
        return b"\n".join(lines), changed, occurrences

    def _escaped_risk(self, data: bytes) -> bool:
        return self.regex is not None or b"\\u" in data or (self._slash and b"\\/" in data)

    def _raw(self, line: bytes) -> tuple[bytes, int]:
        """Replace the secret's raw and JSON-escaped forms anywhere in *line*."""
        if self.regex is None:
            assert self.text is not None
            count = 0
            for form in self.forms:
                n = line.count(form)
                if n:
                    line = line.replace(form, self.marker(self.text).encode("ascii"))
                    count += n
            return line, count
        text = line.decode("utf-8", "surrogateescape")
        new, n = self.sub(text)
        return (new.encode("utf-8", "surrogateescape"), n) if n else (line, 0)
