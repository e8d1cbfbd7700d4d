"""From a repository's analysis and the chosen node to the setup script (`plan.setup` in the JSON)."""

from __future__ import annotations

import base64
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chameleon_provision.errors import InputError
from chameleon_provision.repo_analyzer import Analysis
from chameleon_provision.setup import script, steps
from chameleon_provision.setup.steps import Clone, RepoLayout, Step

# Nova refuses user_data whose base64 form is longer than this (`maxLength` in its server-create schema).
USER_DATA_LIMIT = 65535
_FOLDERS = ("binder", ".binder")  # repo2docker reads these instead of the root when present


@dataclass(frozen=True)
class SetupOptions:
    enabled: bool = True
    commands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.commands and not self.enabled:
            raise InputError("--setup-cmd needs the setup; drop --no-setup or the --setup-cmd")
        if any(not c.strip() or "\x00" in c for c in self.commands):
            raise InputError("--setup-cmd needs a command (an empty one was given)")


@dataclass(frozen=True)
class SetupScript:
    repo_dir: str
    clone: Clone
    steps: tuple[Step, ...]
    script: str
    notes: tuple[str, ...] = ()

    @property
    def user_data_size(self) -> int:
        """Bytes Nova counts: the script base64-encoded, as `openstack server create --user-data` sends it."""
        return len(base64.b64encode(self.script.encode()))

    def as_dict(self) -> dict[str, Any]:
        return {"enabled": True, "repo_dir": self.repo_dir, "clone": {"url": self.clone.url,
                "commit": self.clone.commit, "mode": self.clone.mode},
                "steps": [{"name": s.name, "title": s.title} for s in self.steps],
                "user_data_bytes": self.user_data_size, "notes": list(self.notes), "script": self.script}


# A pyproject.toml that only configures tools (black, ruff, isort) has nothing for `pip install -e .` to build.
_INSTALLABLE = re.compile(r"^\[(project|tool\.poetry|build-system)\]", re.M)


def layout_of(analysis: Analysis) -> RepoLayout:
    """The environment files at the top of the repository (or in binder/, which then replaces the top)."""
    files = set(analysis.files)
    base = next((f"{d}/" for d in _FOLDERS if any(f.startswith(f"{d}/") for f in files)), "")

    def first(*names: str, top: bool = False) -> str | None:
        return next((f"{'' if top else base}{n}" for n in names if f"{'' if top else base}{n}" in files), None)

    apt_file = first("apt.txt")
    packages: list[tuple[int, str]] = []
    if apt_file:
        for no, raw in enumerate(analysis.texts.get(apt_file, "").splitlines(), 1):
            words = raw.split("#", 1)[0].split()
            packages += [(no, w) for w in words]
    return RepoLayout(conda=first("environment.yml", "environment.yaml"), requirements=first("requirements.txt"),
                      project=first("setup.py", top=True) or (
                          "pyproject.toml" if _INSTALLABLE.search(analysis.texts.get("pyproject.toml", "")) else None),
                      dockerfile=first("Dockerfile") or first("Dockerfile", top=True),
                      apt_file=apt_file, apt_packages=tuple(packages))


def clone_url(source: str, path: Path, is_remote: bool) -> str | None:
    """What the node clones: the URL given, or a local folder's `origin` remote (None when it has none)."""
    if is_remote:
        return source
    import git

    try:
        url = str(git.Repo(path).remote("origin").url)
    except (git.GitError, ValueError, OSError):  # not a repository's top, or no `origin`: nothing to clone
        return None
    return url if re.match(r"(https://|[\w.-]+@[\w.-]+:)", url) else None


def build(*, name: str, url: str, commit: str | None, analysis: Analysis, gpu_vendor: str,
          options: SetupOptions) -> SetupScript:
    if not steps.ENV_NAME.fullmatch(name) or name in (".", ".."):
        raise InputError(f"repository name {name!r} cannot be a folder name on the node", hint="pass --no-setup")
    clone = steps.check_clone(url, commit)
    layout = layout_of(analysis)
    # Docker's repository names are lower case with single separators between alphanumerics
    tag = f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-') or 'repo'}:{(commit or 'latest')[:12]}"
    plan: list[Step] = []
    packages = steps.apt_packages(layout)
    if (layout.requirements or layout.project) and not layout.conda:
        packages.append("python3-venv")  # Ubuntu's python3 has no venv module without it
    packages = ["git", *packages]
    plan.append(Step("apt", "apt-get install " + " ".join(packages), (
        "as_root apt-get update",
        "as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y " + " ".join(steps.q(p) for p in packages),
    )))
    plan.append(script.clone_step(clone))
    env_steps, python = steps.environment_steps(layout, name, tag)
    plan += env_steps
    plan += steps.check_steps(gpu_vendor, analysis.requirements.frameworks, python)
    plan += steps.user_steps(options.commands)
    notes = []
    if not env_steps:
        notes.append("no environment file (environment.yml, requirements.txt, pyproject.toml, setup.py, "
                      "Dockerfile) at the top of the repository: only cloned")
    if clone.mode == "agent":
        notes.append("private repository: cloned over `ssh -A` with your agent when the run follows the setup")
    text = script.render(name, commit, plan, steps.env_runner(layout, name), conda=bool(layout.conda))
    result = SetupScript(repo_dir=f"/home/cc/{name}", clone=clone, steps=tuple(plan), script=text, notes=tuple(notes))
    if result.user_data_size > USER_DATA_LIMIT:
        raise InputError(f"the setup script is {result.user_data_size} bytes in base64, over Nova's "
                         f"{USER_DATA_LIMIT}-byte user_data limit", hint="shorten the --setup-cmd lines")
    return result


@contextmanager
def user_data_file(text: str | None) -> Iterator[str | None]:
    """The script as a private temporary file for `server create --user-data`, removed right after."""
    if text is None:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="provision-user-data-", suffix=".sh")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        yield name
    finally:
        os.unlink(name)
