"""The CSV walk-through in README.md and docs/sources.md runs and prints what the text shows."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from backend.analytics.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _bash_commands(text: str, prefix: str) -> list[list[str]]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith(prefix):
                out.append(shlex.split(command))
    return out


def test_readme_csv_commands_run_and_print_the_shown_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's load / detect / report commands work from the repository root as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### CSV", 1)[1].split("### pandas", 1)[0]
    commands = _bash_commands(section, "python -m backend.analytics")
    assert [c[3] for c in commands] == ["load", "detect", "report"]
    monkeypatch.chdir(ROOT)
    for argv in commands:
        args = [a if a not in ("my.db", "report.html") else str(tmp_path / a) for a in argv[3:]]
        assert main(args) == 0
    out = capsys.readouterr().out
    shown = re.search(r"```text\n(.*?)```", section, flags=re.S)
    assert shown is not None
    for line in shown.group(1).splitlines():
        if line.strip() != "...":
            assert line in out
    assert (tmp_path / "report.html").read_text(encoding="utf-8").count('<svg class="plot"') >= 1


def test_sources_read_csv_block_prints_the_shown_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/sources.md's read_csv example prints exactly the report shown under it."""
    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    section = text.split("## CSV files", 1)[1].split("## pandas", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    shown = re.findall(r"```text\n(.*?)```", section, flags=re.S)[1]
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/sources.md", "exec"), {})
    assert out.getvalue() == shown
