"""Batch files: plain lines or CSV with overrides, checked whole before anything runs (batch.inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chameleon_provision.batch.inputs import answered, parse_rows, read_rows
from chameleon_provision.errors import InputError


def test_plain_lines_skip_blank_lines_and_comments_and_keep_line_numbers() -> None:
    rows = parse_rows(["# my repos", "https://github.com/a/b", "", "  git@github.com:c/d.git  "])
    assert [(r.line, r.repo) for r in rows] == [(2, "https://github.com/a/b"), (4, "git@github.com:c/d.git")]
    assert all(r.node_type is None and r.hours is None for r in rows)


def test_csv_rows_carry_their_overrides_and_empty_cells_mean_none() -> None:
    rows = parse_rows(["repo,node_type,image,hours,name,site",
                       "https://github.com/a/b,gpu_rtx_6000,CC-Ubuntu22.04-CUDA,6,run-b,CHI@TACC",
                       "https://github.com/c/d,,,,,"])
    first, second = rows
    assert (first.node_type, first.image, first.hours, first.name, first.site) == (
        "gpu_rtx_6000", "CC-Ubuntu22.04-CUDA", 6.0, "run-b", "CHI@TACC")
    assert (second.node_type, second.image, second.hours, second.name, second.site) == (None,) * 5


@pytest.mark.parametrize(("lines", "message"), [
    (["# nothing", ""], "names no repository"),
    (["repo,colour", "https://github.com/a/b,red"], "unknown or repeated column"),
    (["repo,hours", "https://github.com/a/b,lots"], "line 2: hours 'lots' is not a number"),
    (["repo,hours", "https://github.com/a/b,500"], "line 2: hours 500 is outside"),
    (["repo,name", "https://github.com/a/b,x", "https://github.com/c/d,x"], "both use the name 'x'"),
    (["repo,name", "https://github.com/a/b,-bad"], "line 2: --name"),
    (["https://github.com/a/b", "-rf"], "line 2: repository '-rf' starts with '-'"),
    (["https://github.com/a/b,gpu"], "has commas but the file has no CSV header"),
])
def test_a_bad_file_is_one_input_error_naming_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        parse_rows(lines)


def test_stdin_and_missing_files(tmp_path: Path) -> None:
    assert [r.repo for r in read_rows("-", "https://github.com/a/b\n")] == ["https://github.com/a/b"]
    with pytest.raises(InputError, match="cannot read the batch file"):
        read_rows(str(tmp_path / "absent.txt"))


def test_resume_from_takes_only_successful_lines(tmp_path: Path) -> None:
    previous = tmp_path / "previous.jsonl"
    previous.write_text("\n".join(json.dumps(d) for d in [
        {"schema_version": 1, "mode": "plan", "batch": {"line": 1, "input": "https://github.com/a/b", "name": None}},
        {"schema_version": 1, "error": {"exit_code": 10}, "batch": {"line": 2, "input": "https://github.com/c/d"}},
        {"schema_version": 1, "batch": {"line": 3, "input": "https://github.com/e/f", "name": "e"}},
    ]) + "\n")
    assert answered(previous) == {("https://github.com/a/b", None), ("https://github.com/e/f", "e")}
    previous.write_text("not json\n")
    with pytest.raises(InputError, match="line 1 is not JSON"):
        answered(previous)


def test_progress_labels_are_short(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    rows = parse_rows(["repo,name", "https://github.com/owner/repo.git,", "git@github.com:o/r,", f"{tmp_path}/folder/,",
                       "https://github.com/a/b,mine"])
    assert [r.label for r in rows] == ["owner/repo", "o/r", "folder", "mine"]
