"""Repository argument validation (before git runs) and the shallow clone mechanics, all on loopback."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import git
import pytest

from chameleon_provision.errors import InputError, RepositoryError
from chameleon_provision.repo_analyzer import classify_source, open_repository
from chameleon_provision.repo_analyzer import source as source_mod


@pytest.fixture
def no_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must refuse before any process starts."""
    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("git was started for an invalid argument")
    monkeypatch.setattr(subprocess, "Popen", boom)
    monkeypatch.setattr(subprocess, "run", boom)


def make_repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t").set_value("user", "email", "t@example.org")
    (path / "requirements.txt").write_text("numpy\n")
    repo.index.add(["requirements.txt"])
    repo.index.commit("first")
    repo.create_tag("v1")
    (path / "README.md").write_text("# demo\n")
    repo.index.add(["README.md"])
    repo.index.commit("second")
    repo.create_head("other")
    return repo


@pytest.mark.parametrize("url", [
    "https://github.com/owner/repo",
    "https://github.com/owner/repo.git",
    "https://github.com/owner/repo/",
    "https://gitlab.example.org:8443/group/sub/repo.git",
    "git@github.com:owner/repo.git",
    "git@gitlab.com:group/sub/repo",
])
def test_accepts_remote_forms(url: str, no_git: None) -> None:
    assert classify_source(url) == ("remote", url)


@pytest.mark.parametrize(("arg", "needle"), [
    ("ext::sh -c touch% /tmp/pwned", "transport"),
    ("fd::17", "transport"),
    ("https://github.com/a/b::x", "transport"),
    ("file:///etc", "file://"),
    ("--upload-pack=touch /tmp/x", "starts with '-'"),
    ("-c", "starts with '-'"),
    ("http://github.com/owner/repo", "https://"),
    ("https://user:token@github.com/owner/repo", "credentials"),
    ("https://token@github.com/owner/repo", "credentials"),
    ("https://github.com/owner/repo?ref=main", "query"),
    ("https://github.com/owner/repo#frag", "query"),
    ("https://github.com/owner/repo;rm -rf", "unexpected characters"),
    ("https://github.com/owner", "too few path parts"),
    ("https://github.com/owner/../repo", "'..'"),
    ("ssh://git@github.com/owner/repo", "not accepted"),
    ("gopher://host/owner/repo", "not accepted"),
    ("github.com/owner/repo", "did you mean https://github.com/owner/repo"),
    ("https://github.com/own\ner/repo", "control characters"),
    ("", "empty"),
    ("   ", "empty"),
])
def test_refuses_before_git_runs(arg: str, needle: str, no_git: None) -> None:
    with pytest.raises(InputError) as err:
        classify_source(arg)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_credentials_never_echoed(no_git: None) -> None:
    with pytest.raises(InputError) as err:
        classify_source("https://alice:s3cr3t@github.com/owner/repo")
    assert "s3cr3t" not in str(err.value)


def test_local_paths(tmp_path: Path, no_git: None) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    assert classify_source(str(folder)) == ("local", str(folder.resolve()))
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        classify_source(str(file))
    with pytest.raises(InputError, match="no such folder"):
        classify_source(str(tmp_path / "missing"))


def test_local_folder_read_in_place(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    with open_repository(str(tmp_path / "r")) as co:
        assert co.path == (tmp_path / "r").resolve()
        assert co.commit == repo.head.commit.hexsha
        assert co.is_remote is False
    plain = tmp_path / "plain"
    plain.mkdir()
    with open_repository(str(plain)) as co:
        assert co.commit is None
    sub = tmp_path / "r" / "sub"
    sub.mkdir()
    with open_repository(str(sub)) as co:  # a folder inside a repo is not the repo
        assert co.commit is None


def test_shallow_single_branch_no_tags(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    repo = make_repo(origin)
    dest = tmp_path / "clone"
    source_mod.clone(f"file://{origin}", dest, timeout=30, protocols=("file",))
    cloned = git.Repo(dest)
    assert cloned.head.commit.hexsha == repo.head.commit.hexsha
    assert int(cloned.git.rev_list("--count", "HEAD")) == 1
    assert cloned.tags == []
    assert [r.name for r in cloned.remotes.origin.refs if r.name != "origin/HEAD"] == ["origin/main"]


def test_protocols_restricted_by_default(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    make_repo(origin)
    with pytest.raises(RepositoryError, match="could not clone"):
        source_mod.clone(f"file://{origin}", tmp_path / "c", timeout=30)


def test_clone_failure_reports_git_line_without_credentials(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError) as err:
        source_mod.clone("https://bob:hunter2@127.0.0.1:9/owner/repo.git", tmp_path / "c", timeout=30)
    assert "hunter2" not in str(err.value)
    assert "could not clone https://***@127.0.0.1:9/owner/repo.git:" in str(err.value)
    with pytest.raises(RepositoryError, match="could not clone"):
        source_mod.clone(f"file://{tmp_path}/nope", tmp_path / "d", timeout=30, protocols=("file",))


def test_clone_timeout_kills_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    script = fake / "git"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(RepositoryError, match=r"timed out after 0\.5 s"):
        source_mod.clone("https://example.org/owner/repo", tmp_path / "c", timeout=0.5)


def test_clone_runs_git_without_lfs_smudging_or_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    script = fake / "git"
    script.write_text('#!/bin/sh\nenv > "$DUMP"\nprintf "%s\\n" "$@" > "$DUMP.args"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    dump = tmp_path / "env.txt"
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DUMP", str(dump))
    monkeypatch.setenv("GIT_LFS_SKIP_SMUDGE", "0")  # the user's own setting does not win
    source_mod.clone("https://example.org/owner/repo", tmp_path / "c", timeout=10)
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert env["GIT_LFS_SKIP_SMUDGE"] == "1"
    assert (env["GIT_TERMINAL_PROMPT"], env["GIT_ASKPASS"], env["GCM_INTERACTIVE"]) == ("0", "/bin/false", "never")
    args = (tmp_path / "env.txt.args").read_text().splitlines()
    assert "core.hooksPath=/dev/null" in args and "--no-recurse-submodules" in args
    assert args[-3:] == ["--", "https://example.org/owner/repo", str(tmp_path / "c")]


@pytest.mark.parametrize("url", ["--upload-pack=touch /tmp/pwned", "-c", "-ucore.sshCommand=touch /tmp/pwned",
                                 "ext::sh -c touch% /tmp/pwned", "fd::3"])
def test_hostile_urls_refused_before_git_runs(url: str, tmp_path: Path, no_git: None) -> None:
    with pytest.raises(InputError):
        source_mod.clone(url, tmp_path / "c", timeout=5)
    with pytest.raises(InputError), open_repository(url):
        pass
    assert not (tmp_path / "c").exists()


def test_head_commit_only_for_the_top_of_a_work_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    assert source_mod.head_commit(tmp_path / "r") == repo.head.commit.hexsha
    assert source_mod.head_commit(tmp_path / "r" / ".git") is None
    git.Repo.init(tmp_path / "bare.git", bare=True)
    assert source_mod.head_commit(tmp_path / "bare.git") is None
    git.Repo.init(tmp_path / "unborn")
    assert source_mod.head_commit(tmp_path / "unborn") is None
    (tmp_path / "r" / ".git" / "refs" / "heads" / "main").write_text("0" * 39 + "1\n")
    assert source_mod.head_commit(tmp_path / "r") is None  # HEAD names a commit that is not there


def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RepositoryError, match="git is not installed"):
        source_mod.clone("https://example.org/owner/repo", tmp_path / "c", timeout=5)


def test_remote_checkout_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    origin = tmp_path / "origin"
    make_repo(origin)
    seen: dict[str, object] = {}
    real_clone = source_mod.clone

    def local_clone(url: str, dest: Path, *, timeout: float) -> None:
        seen["url"], seen["timeout"] = url, timeout
        real_clone(f"file://{origin}", dest, timeout=timeout, protocols=("file",))

    monkeypatch.setattr(source_mod, "clone", local_clone)
    with open_repository("https://github.com/owner/repo", clone_timeout=7) as co:
        assert co.is_remote and co.source == "https://github.com/owner/repo"
        assert (co.path / "README.md").is_file()
        assert co.commit and len(co.commit) == 40
        checkout = co.path
    assert seen == {"url": "https://github.com/owner/repo", "timeout": 7}
    assert not checkout.exists() and not checkout.parent.exists()


def test_remote_checkout_removed_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []

    def failing_clone(url: str, dest: Path, *, timeout: float) -> None:
        made.append(dest.parent)
        raise RepositoryError("could not clone: not found")

    monkeypatch.setattr(source_mod, "clone", failing_clone)
    with pytest.raises(RepositoryError), open_repository("git@github.com:owner/repo.git"):
        pass
    assert made and not made[0].exists()


def test_an_overlong_argument_is_refused_at_once() -> None:
    with pytest.raises(InputError, match="at most 2048"):
        classify_source("https://github.com/" + "o/" * 5000 + "r")


@pytest.mark.parametrize("arg", ["https://" + "a" * 2000 + "!.com/o/r", "git@" + "a." * 1000 + ":o/r",
                                 "a" * 2000 + "/o/r", "https://" + "a-" * 1000 + "/o/r"])
def test_hostile_arguments_are_refused_quickly_with_a_one_line_error(arg: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        classify_source(arg)
    assert time.perf_counter() - started < 0.05
    assert "\n" not in info.value.message
