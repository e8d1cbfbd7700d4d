"""Where the repository comes from: validate the argument before git ever runs, then clone shallowly.

Git accepts far more than URLs: `ext::sh -c ...` runs commands, `--upload-pack=...` is an option,
`fd::`, `file://` and odd transports reach the local machine. So the argument is matched against
the three shapes we accept (https URL, git@host:owner/repo, an existing local folder) and anything
else is refused with one line that says what to fix. The clone itself is restricted to https/ssh
by git configuration as a second fence, never prompts, fetches no tags, submodules or LFS objects,
and lands in a temporary directory that is removed on exit. The commit of a checkout is read with
GitPython.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chameleon_provision.errors import InputError, RepositoryError

log = logging.getLogger(__name__)

# Every check below splits first and then matches short pieces with patterns free of nested
# repetition, so validation is linear in the argument's length; and no argument is longer than this.
MAX_SOURCE_LENGTH = 2048
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._~-]*")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")


def _host_ok(host: str) -> bool:
    return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))


def _path_ok(path: str, *, parts: int = 2) -> bool:
    """owner/repo (or deeper): at least `parts` plain segments, an optional trailing slash."""
    segments = path.removesuffix("/").split("/")
    return len(segments) >= parts and all(_SEGMENT.fullmatch(s) for s in segments)


def _scp_parts(text: str) -> tuple[str, str, str] | None:
    """git@host:owner/repo -> (user, host, path), or None."""
    user, at, rest = text.partition("@")
    host, colon, path = rest.partition(":")
    if at and colon and _USER.fullmatch(user) and _host_ok(host) and _path_ok(path):
        return user, host, path
    return None


@dataclass(frozen=True)
class RepoCheckout:
    path: Path
    source: str
    commit: str | None
    is_remote: bool


def classify_source(source: str) -> tuple[str, str]:
    """('remote', url) or ('local', absolute path); InputError for anything else, before git runs."""
    text = source.strip()
    if not text:
        raise InputError("the repository argument is empty; pass an https:// URL or a folder")
    if len(text) > MAX_SOURCE_LENGTH:
        raise InputError(f"the repository argument is {len(text)} characters long; at most {MAX_SOURCE_LENGTH} "
                         "are accepted")
    if text.startswith("-"):
        raise InputError(f"repository {text!r} starts with '-'; pass an https:// URL or a folder path")
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        raise InputError("the repository argument contains control characters")
    if "::" in text:
        raise InputError(f"{text!r} uses a git transport ('::'); only https:// URLs, git@host:owner/repo and "
                         "local folders are accepted")
    scheme = _SCHEME.match(text)
    if scheme:
        return "remote", _check_url(text, scheme.group(1).lower())
    if (scp := _scp_parts(text)) and not _exists(Path(text)):
        if ".." in scp[2].split("/"):
            raise InputError(f"{text!r}: '..' is not allowed in a repository path")
        return "remote", text
    path = Path(text).expanduser()
    if _exists(path):
        if not path.is_dir():
            raise InputError(f"{text} is a file, not a folder; pass the repository's folder or its URL")
        return "local", str(path.resolve())
    first, _, rest = text.partition("/")
    if "." in first and _host_ok(first) and _path_ok(rest):
        raise InputError(f"no folder named {text!r}; did you mean https://{text}?")
    if ":" in text.split("/", 1)[0] or "@" in text:
        raise InputError(f"{text!r} is neither an https:// URL, git@host:owner/repo, nor an existing folder")
    raise InputError(f"no such folder: {text}", hint="pass an existing folder or an https:// URL")


def _check_url(text: str, scheme: str) -> str:
    if scheme == "http":
        raise InputError(f"{text!r} uses http://; use https:// instead")
    if scheme == "file":
        raise InputError(f"{text!r}: file:// URLs are not accepted; pass the folder path itself")
    if scheme != "https":
        raise InputError(f"{scheme}:// is not accepted; use an https:// URL or git@host:owner/repo")
    authority = text[len("https://"):].split("/", 1)[0]
    if "@" in authority:
        raise InputError("the URL contains credentials (user@ or user:token@); remove them and use a "
                         "credential helper or an SSH key instead")
    if "?" in text or "#" in text:
        raise InputError(f"{_redact(text)!r} has a query or fragment; pass the plain repository URL")
    if ".." in text.split("/"):
        raise InputError(f"{text!r}: '..' is not allowed in a repository path")
    path = text[len("https://") + len(authority) + 1:]
    name, colon, port = authority.partition(":")
    if not (_host_ok(name) and _path_ok(path) and (not colon or (port.isdigit() and len(port) <= 5))):
        raise InputError(f"{_redact(text)!r} is not a repository URL of the form https://host/owner/repo; "
                         "it has unexpected characters or too few path parts")
    if colon and not 0 < int(port) < 65536:
        raise InputError(f"{text!r}: invalid port")
    return text


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system is no folder of the user's
        return False


def _redact(text: str) -> str:
    """Hide anything that looks like credentials in a URL before it reaches a message or a log."""
    return re.sub(r"(?i)^([a-z][a-z0-9+.-]{0,31}://)[^/@\s]+@", r"\1***@", text)


# Set for every git process: never prompt (terminal, askpass, credential manager), skip system-wide
# config, and leave Git LFS pointers as they are (a smudge would download every large file of a repository
# that is only read for its text).
_GIT_SAFETY = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
               "GCM_INTERACTIVE": "never", "GIT_CONFIG_NOSYSTEM": "1", "GIT_PROTOCOL_FROM_USER": "0",
               "GIT_LFS_SKIP_SMUDGE": "1", "LC_ALL": "C"}


def git_env() -> dict[str, str]:
    env = {**os.environ, **_GIT_SAFETY}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=20")
    return env


def clone(url: str, dest: Path, *, timeout: float = 120.0, protocols: Sequence[str] = ("https", "ssh")) -> None:
    """Shallow, single-branch clone without tags or submodules, restricted to the given protocols.

    This stays a plain subprocess rather than GitPython's `Repo.clone_from`: clone_from starts git with
    `as_process=True` and then waits without a timeout (its `kill_after_timeout` does not apply there), while
    a hung clone must be stopped together with the helpers git starts (git-remote-https, ssh), which only a
    process group of its own allows.
    """
    if url.startswith("-") or "::" in url:  # classify_source refuses these first; this fences other callers
        raise InputError(f"refusing to clone {_redact(url)!r}: it looks like a git option or transport")
    allow = ["-c", "protocol.allow=never"] + [x for p in protocols for x in ("-c", f"protocol.{p}.allow=always")]
    cmd = ["git", *allow, "-c", "core.hooksPath=/dev/null", "-c", "core.symlinks=false", "clone", "--depth", "1",
           "--single-branch", "--no-tags", "--no-recurse-submodules", "--quiet", "--", url, str(dest)]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=git_env(), start_new_session=True, text=True)
    except FileNotFoundError as exc:
        raise RepositoryError("git is not installed", hint="install git and retry") from exc
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # git runs helpers (git-remote-https); stop the whole group
        proc.communicate()
        raise RepositoryError(f"cloning {_redact(url)} timed out after {timeout:g} s",
                              hint="check the network, or clone it yourself and pass the folder") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in err.splitlines() if ln.strip() and not ln.startswith("Cloning into")]
        last = _redact(lines[-1]) if lines else f"git exited with code {proc.returncode}"
        raise RepositoryError(f"could not clone {_redact(url)}: {last}")


def head_commit(path: Path) -> str | None:
    """HEAD of path if path is the top of a git work tree, else None."""
    try:
        import git  # here rather than at the top: importing GitPython runs git, and fails if it is missing
    except ImportError:
        return None
    try:
        with git.Repo(path, search_parent_directories=False, expand_vars=False) as repo:
            top = repo.working_tree_dir
            if top is None or Path(top).resolve() != path.resolve():
                return None  # a bare repository, or its .git folder
            repo.git.update_environment(**_GIT_SAFETY)  # for the `git cat-file` that checks the commit exists
            sha = repo.head.commit.hexsha
    except (git.GitError, ValueError, OSError):  # not a repository, no commit yet, a dangling HEAD
        return None
    return sha if re.fullmatch(r"[0-9a-f]{40,64}", sha) else None


@contextmanager
def open_repository(source: str, *, clone_timeout: float = 120.0) -> Iterator[RepoCheckout]:
    kind, target = classify_source(source)
    if kind == "local":
        path = Path(target)
        yield RepoCheckout(path=path, source=target, commit=head_commit(path), is_remote=False)
        return
    workdir = Path(tempfile.mkdtemp(prefix="provision-clone-"))
    try:
        dest = workdir / "repo"
        log.info("cloning %s", _redact(target))
        clone(target, dest, timeout=clone_timeout)
        yield RepoCheckout(path=dest, source=target, commit=head_commit(dest), is_remote=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
