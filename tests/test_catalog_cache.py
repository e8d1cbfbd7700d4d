"""The JSON catalog cache (cloud.catalog_cache): hits within the TTL, misses after it, and never a failed load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.cloud import catalog_cache
from chameleon_provision.cloud.catalog_cache import CatalogCache

IMAGES = [{"id": "img-1", "name": "CC-Ubuntu22.04"}]


class Loader:
    def __init__(self, value: Any = IMAGES) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def test_second_load_within_the_ttl_is_served_from_disk(tmp_path: Path) -> None:
    cache, load = CatalogCache(tmp_path, ttl_seconds=60), Loader()
    assert cache.get_or_load("images-CHI@UC", load) == IMAGES
    assert CatalogCache(tmp_path, ttl_seconds=60).get_or_load("images-CHI@UC", load) == IMAGES  # a new process
    assert load.calls == 1
    assert json.loads((tmp_path / "images-CHI_UC.json").read_text()) == IMAGES


def test_entry_older_than_the_ttl_is_loaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, load = CatalogCache(tmp_path, ttl_seconds=3600), Loader()
    cache.get_or_load("nodes", load)
    written = (tmp_path / "nodes.json").stat().st_mtime
    monkeypatch.setattr(catalog_cache.time, "time", lambda: written + 3599)
    cache.get_or_load("nodes", load)
    assert (load.calls, cache.hits) == (1, 1)
    monkeypatch.setattr(catalog_cache.time, "time", lambda: written + 3601)
    load.value = [{"id": "img-2"}]
    assert cache.get_or_load("nodes", load) == [{"id": "img-2"}]
    assert (load.calls, cache.hits) == (2, 1)


def test_zero_ttl_never_serves_a_cached_value(tmp_path: Path) -> None:
    cache, load = CatalogCache(tmp_path, ttl_seconds=0), Loader()
    cache.get_or_load("k", load)
    cache.get_or_load("k", load)
    assert (load.calls, cache.hits) == (2, 0)


@pytest.mark.parametrize("content", ['[{"id": "img-1", "na', "", "\x00\xff garbage"])
def test_corrupt_cache_file_is_a_miss_and_is_rewritten(tmp_path: Path, content: str) -> None:
    (tmp_path / "images.json").write_text(content, encoding="latin-1")
    cache, load = CatalogCache(tmp_path), Loader()
    assert cache.get_or_load("images", load) == IMAGES
    assert (load.calls, cache.hits) == (1, 0)
    assert json.loads((tmp_path / "images.json").read_text()) == IMAGES


def test_unwritable_cache_directory_still_returns_the_loaded_value(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    cache, load = CatalogCache(blocker / "cache"), Loader()
    assert cache.get_or_load("images", load) == IMAGES
    assert cache.get_or_load("images", load) == IMAGES
    assert load.calls == 2


def test_cache_file_that_cannot_be_replaced_does_not_break_loading(tmp_path: Path) -> None:
    (tmp_path / "images.json").mkdir()  # os.replace onto a directory fails
    cache, load = CatalogCache(tmp_path), Loader()
    assert cache.get_or_load("images", load) == IMAGES and load.calls == 1


def test_no_directory_means_no_cache(tmp_path: Path) -> None:
    cache, load = CatalogCache(None), Loader()
    cache.get_or_load("images", load)
    cache.get_or_load("images", load)
    assert load.calls == 2


def test_key_cannot_write_outside_the_cache_directory(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    CatalogCache(cache_dir).get_or_load("../../etc/passwd", Loader())
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]
    assert [p.name for p in cache_dir.iterdir()] == [".._.._etc_passwd.json"]


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    CatalogCache(tmp_path).get_or_load("images", Loader())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.json"]


def test_fresh_file_written_by_another_run_is_used(tmp_path: Path) -> None:
    (tmp_path / "images.json").write_text(json.dumps([{"id": "from-other-run"}]))
    load = Loader()
    assert CatalogCache(tmp_path).get_or_load("images", load) == [{"id": "from-other-run"}]
    assert load.calls == 0
