"""What the commands write to a terminal, a pipe or a log: progress lines, and text any encoding can take."""

from __future__ import annotations

import codecs
import os
import sys
import time
from typing import TextIO

__all__ = ["ProgressLine", "reader_gone", "tolerant_output"]

#: The non-ASCII characters the library's own text uses, as ASCII (a range's dash, "2 x 3.5", ...).
_PLAIN = {"\u2013": "-", "\u2014": "-", "\u00d7": "x", "\u2026": "...", "\u00b5": "u", "\u00b1": "+/-"}
_HANDLER = "backend-analytics-plain"


def _plain(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: the characters above as ASCII, any other as a ``\\xe9``-style escape."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    plain = "".join(_PLAIN.get(c, c.encode("ascii", "backslashreplace").decode("ascii")) for c in text)
    return plain, error.end


def tolerant_output() -> None:
    """Let stdout and stderr write any text, whatever their encoding.

    A console or a pipe whose encoding is not UTF-8 (``LANG=C`` on some
    systems, ``PYTHONIOENCODING=ascii``, a Windows code page) raised
    ``UnicodeEncodeError`` on the first sentence holding a range's dash, so a
    command stopped part-way through its output. Such streams now write the
    library's few non-ASCII characters as ASCII and anything else (a node
    named in another script) as a backslash escape. UTF-8 streams are left
    as they are.
    """
    try:
        codecs.lookup_error(_HANDLER)
    except LookupError:
        codecs.register_error(_HANDLER, _plain)
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or encoding in ("utf-8", "utf8", "utf-16", "utf-32"):
            continue
        try:
            reconfigure(errors=_HANDLER)
        except (ValueError, OSError):  # (a stream that cannot change now: left as it is)
            continue


def reader_gone() -> int:
    """After ``BrokenPipeError`` on stdout (``... | head``): point stdout at /dev/null, so that the
    interpreter's last flush does not fail again, and return the exit status 1 (Unix tools stop quietly)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


class ProgressLine:
    """Progress on stderr: one line rewritten in place on a terminal, whole lines elsewhere.

    On a terminal the line is rewritten at most every ``every`` seconds; in a
    pipe or a log file (a CI job, ``2> log``), where carriage returns pile up
    into one unreadable line, a whole line is written at most every
    ``every_logged`` seconds. The final state (``final=True``) is always
    written, and ends the line.
    """

    def __init__(
        self, *, every: float = 0.2, every_logged: float = 10.0, stream: TextIO | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty()) if isatty is not None else False
        self.every = every if self.live else every_logged
        self.last: float | None = None

    def show(self, text: str, *, final: bool = False) -> None:
        """Write ``text`` as the current progress, unless the last write was too recent (and not final)."""
        now = time.monotonic()
        if not final and self.last is not None and now - self.last < self.every:
            return
        self.last = now
        if self.live:
            self.stream.write(f"\r{text}" + ("\n" if final else ""))
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()
