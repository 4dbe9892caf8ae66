"""backend.analytics.cli._console: output any console can take, and progress for terminals and logs."""

from __future__ import annotations

import io
import sys
import time

import pytest

from backend.analytics.cli._console import ProgressLine, tolerant_output


def ascii_stream() -> tuple[io.BytesIO, io.TextIOWrapper]:
    raw = io.BytesIO()
    return raw, io.TextIOWrapper(raw, encoding="ascii", write_through=True)


def test_an_ascii_stream_takes_the_librarys_characters_and_escapes_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw, out = ascii_stream()
    raw_err, err = ascii_stream()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(UnicodeEncodeError):
        out.write("12:00\u201313:00")
    tolerant_output()
    out.write("12:00\u201313:00 \u2014 2 \u00d7 3.5 sd\u2026 on caf\u00e9 \u00b11 \u00b5s\n")
    err.write("node \u30ce\u30fc\u30c9\n")
    assert raw.getvalue() == b"12:00-13:00 - 2 x 3.5 sd... on caf\\xe9 +/-1 us\n"
    assert raw_err.getvalue() == b"node \\u30ce\\u30fc\\u30c9\n"


def test_a_utf8_stream_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    tolerant_output()
    assert out.errors == "strict"
    out.write("12:00\u201313:00\n")
    assert raw.getvalue() == "12:00\u201313:00\n".encode()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_is_whole_lines_at_most_every_ten_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    log = io.StringIO()
    line = ProgressLine(stream=log)
    for k, at in enumerate([0.0, 1.0, 9.9, 10.0, 15.0, 20.5]):
        clock.now = 100.0 + at
        line.show(f"step {k}")
    line.show("done", final=True)
    assert log.getvalue() == "step 0\nstep 3\nstep 5\ndone\n"


def test_progress_on_a_terminal_rewrites_one_line_and_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    tty = Terminal()
    line = ProgressLine(every=0.5, stream=tty)
    for k, at in enumerate([0.0, 0.2, 0.6]):
        clock.now = 100.0 + at
        line.show(f"step {k}")
    line.show("done", final=True)
    assert tty.getvalue() == "\rstep 0\rstep 2\rdone\n"
