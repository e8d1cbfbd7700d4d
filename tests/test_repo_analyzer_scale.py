"""Huge repositories stay bounded: counts and bytes, not wall time (timing lives in the benchmark)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from chameleon_provision.repo_analyzer import Analysis, analyze, scanner


def build_big_repo(root: Path) -> int:
    """~20k small files: nested packages with sources, READMEs and requirement files, plus vendored trees."""
    made = 0
    (root / "requirements.txt").write_text("torch\n" + "numpy\n" * 50)
    for top in range(40):
        for sub in range(10):
            folder = root / f"pkg{top}" / f"mod{sub}"
            folder.mkdir(parents=True)
            for i in range(45):
                (folder / f"f{i}.py").write_text("import os\n")
                made += 1
            (folder / "README.md").write_text("# module\nRuns on a single GPU.\n")
            (folder / "requirements-extra.txt").write_text("cupy\n")
            made += 2
    vendored = root / "third_party" / "big"
    vendored.mkdir(parents=True)
    for i in range(500):
        (vendored / f"k{i}.cu").write_text("__global__ void k() {}\n")
        made += 1
    modules = root / "node_modules"
    modules.mkdir()
    for i in range(500):
        (modules / f"m{i}.js").write_text("x")
        made += 1
    return made


def test_twenty_thousand_files_stay_bounded(tmp_path: Path) -> None:
    made = build_big_repo(tmp_path)
    assert made >= 19000
    a = analyze(tmp_path)
    assert a.files_scanned <= scanner.MAX_FILES_READ
    assert a.bytes_read <= scanner.MAX_TOTAL_BYTES
    assert a.entries_visited <= scanner.MAX_ENTRIES
    # per-kind budgets: only a few dozen READMEs and requirement files are read, however many exist
    assert sum(1 for f in a.files if f.endswith("README.md")) <= scanner.PER_KIND["readme"]
    assert sum(1 for f in a.files if "requirements" in f) <= scanner.PER_KIND["requirements"]
    assert not any(f.startswith(("third_party", "node_modules")) for f in a.files)
    assert a.requirements.gpu.required in ("yes", "optional")  # the root requirements and nested cupy files


def test_entry_budget_stops_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(300):
        (tmp_path / f"f{i}.txt").write_text("x")
    monkeypatch.setattr(scanner, "MAX_ENTRIES", 100)
    a = analyze(tmp_path)
    assert a.entries_visited == 101
    assert any("directory entries" in n for n in a.notes)


def test_per_file_and_total_byte_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = "numpy\n" * 200_000  # 1.2 MB
    (tmp_path / "requirements.txt").write_text(big + "cupy\n")
    result = scanner.scan(tmp_path)
    assert result.bytes_read == scanner.MAX_FILE_BYTES
    assert result.files[0].truncated
    for i in range(10):
        (tmp_path / f"requirements-{i}.txt").write_text(big)
    monkeypatch.setattr(scanner, "MAX_TOTAL_BYTES", 3 * scanner.MAX_FILE_BYTES + 10)
    result = scanner.scan(tmp_path)
    assert result.bytes_read <= scanner.MAX_TOTAL_BYTES
    assert any("total bytes" in n for n in result.limits_hit)


def test_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path
    for i in range(scanner.MAX_DEPTH + 3):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "Dockerfile").write_text("FROM nvidia/cuda:12.1.0-base-ubuntu22.04\n")
    assert analyze(tmp_path).facts == ()


def test_special_files_are_skipped_without_being_opened(tmp_path: Path) -> None:
    """A FIFO named requirements.txt would block a reader forever; the scan must not open it."""
    (tmp_path / "README.md").write_text("# tool\nA small pandas script.\n")
    os.mkfifo(tmp_path / "requirements.txt")
    os.mkfifo(tmp_path / "environment.yml")
    done: list[Analysis] = []
    worker = threading.Thread(target=lambda: done.append(analyze(tmp_path)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done, "analyze blocked on a FIFO"
    assert "requirements.txt" not in done[0].files and "README.md" in done[0].files
