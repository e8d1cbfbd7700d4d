"""What the node's setup does, decided from the repository analysis: named steps of shell lines.

Every word that comes from the repository (its name, file names, apt package names) is checked against
a strict pattern and then shell-quoted; a word that does not fit is refused with the file and line, so a
hostile line can never become shell. Files whose contents only a tool reads (requirements.txt,
environment.yml, the Dockerfile) are passed to that tool by name and never expanded into the script.
The order follows repo2docker's reading of a repository: system packages, then conda if there is an
environment file, else a venv for requirements.txt, then the project itself, then a Dockerfile.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from chameleon_provision.errors import InputError

ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REL_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
# Debian policy: lower case letters, digits, + - . ; at least two characters, starting alphanumeric.
_APT_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_HTTPS = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)+/?")
_SCP = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)+/?")

# The import each framework's users run to see that it works, and the check that it sees the accelerator.
_IMPORTS: dict[str, tuple[str, str]] = {
    "pytorch": ("import torch", "assert torch.cuda.is_available(), 'torch sees no GPU'"),
    "tensorflow": ("import tensorflow as tf",
                   "assert tf.config.list_physical_devices('GPU'), 'TensorFlow sees no GPU'"),
    "jax": ("import jax", "assert jax.default_backend() == 'gpu', 'JAX sees no GPU'"),
    # libraries that always run on torch: their repositories often leave torch itself to be pulled in
    **{lib: ("import torch", "assert torch.cuda.is_available(), 'torch sees no GPU'")
       for lib in ("accelerate", "peft", "diffusers", "lightning", "deepspeed")},
    "keras": ("import keras", ""),
    "scikit-learn": ("import sklearn", ""),
    "pandas": ("import pandas", ""),
    "numpy": ("import numpy", ""),
}


@dataclass(frozen=True)
class Step:
    name: str  # a fixed identifier ([a-z0-9-]), recorded in the status file
    title: str
    commands: tuple[str, ...]  # shell lines; repository words already validated and quoted


@dataclass(frozen=True)
class RepoLayout:
    """The environment files a repository has, as its analysis read them (paths relative to its root)."""

    conda: str | None = None
    requirements: str | None = None
    project: str | None = None  # pyproject.toml or setup.py: `pip install -e .`
    dockerfile: str | None = None
    apt_file: str | None = None
    apt_packages: tuple[tuple[int, str], ...] = ()  # (line, name) as written in apt_file


@dataclass(frozen=True)
class Clone:
    url: str
    commit: str | None
    mode: Literal["https", "agent"]  # agent: cloned over `ssh -A` with the user's forwarded agent


def q(word: str) -> str:
    return shlex.quote(word)


def check_path(rel: str, what: str) -> str:
    if not _REL_PATH.fullmatch(rel) or ".." in rel.split("/"):
        raise InputError(f"{what} {rel!r} has characters the setup script will not use",
                         hint="rename it, or pass --no-setup")
    return rel


def check_clone(url: str, commit: str | None) -> Clone:
    if commit is not None and not _COMMIT.fullmatch(commit):
        raise InputError(f"commit {commit!r} is not a full hexadecimal commit id", hint="pass --no-setup")
    if _HTTPS.fullmatch(url):
        return Clone(url, commit, "https")
    if _SCP.fullmatch(url):
        return Clone(url, commit, "agent")
    raise InputError(f"the repository address {url!r} cannot be cloned by the setup script (only https:// and "
                     "git@host:owner/repo)", hint="pass --no-setup")


def apt_packages(layout: RepoLayout) -> list[str]:
    names = []
    for line, name in layout.apt_packages:
        if not _APT_NAME.fullmatch(name):
            raise InputError(f"{layout.apt_file}:{line} {name[:60]!r} is not a Debian package name; the setup "
                             "script installs only plain package names", hint="fix the line, or pass --no-setup")
        names.append(name)
    return list(dict.fromkeys(names))


def env_runner(layout: RepoLayout, env_name: str) -> str:
    """The script's `in_env`: runs a command as the user in the repository, inside its environment."""
    if layout.conda:
        return f'in_env() {{ ensure_conda; in_repo "$CONDA" run --no-capture-output -n {q(env_name)} "$@"; }}'
    if layout.requirements or layout.project:
        return 'VENV="$STATE_DIR/venv"\nin_env() { in_repo env PATH="$VENV/bin:$PATH" "$@"; }'
    return 'in_env() { in_repo "$@"; }'


def environment_steps(layout: RepoLayout, env_name: str, image_tag: str) -> tuple[list[Step], str | None]:
    """The install steps, and the command prefix that runs `python` inside the environment they make."""
    steps: list[Step] = []
    python: str | None = None
    if layout.conda:
        conda_file = q(check_path(layout.conda, "environment file"))
        steps.append(Step("conda", f"conda env create -f {layout.conda}", (
            "ensure_conda",
            f'in_repo "$CONDA" env create -n {q(env_name)} -f {conda_file}',
        )))
        python = "in_env python"
    elif layout.requirements or layout.project:
        steps.append(Step("venv", "python3 -m venv ~/.provision/venv", (
            'in_repo python3 -m venv "$VENV"',
            "in_env python -m pip install --upgrade pip",
        )))
        python = "in_env python"
        if layout.requirements:
            req = q(check_path(layout.requirements, "requirements file"))
            steps.append(Step("pip-requirements", f"pip install -r {layout.requirements}",
                              (f'{python} -m pip install -r {req}',)))
    if layout.project and python is not None:
        steps.append(Step("pip-project", "pip install -e .", (f'{python} -m pip install -e .',)))
    if layout.dockerfile:
        dockerfile = q(check_path(layout.dockerfile, "Dockerfile"))
        steps.append(Step("docker-build", f"docker build -t {image_tag}", (
            'ensure_docker',
            f"root_in_repo docker build -t {q(image_tag)} -f {dockerfile} .",
        )))
        if python is None:  # no GPU flags: the image's runtime on the node is not known, so only the import
            python = f"root_in_repo docker run --rm {q(image_tag)} python"
    return steps, python


def check_steps(gpu_vendor: str, frameworks: tuple[str, ...], python: str | None) -> list[Step]:
    steps = []
    if gpu_vendor == "nvidia":
        steps.append(Step("gpu-check", "nvidia-smi", ("nvidia-smi",)))
    elif gpu_vendor == "amd":
        steps.append(Step("gpu-check", "rocm-smi", ("rocm-smi",)))
    main = next((f for f in _IMPORTS if f in frameworks), None)  # the most specific one the repository uses
    if main is not None and python is not None:
        statement, gpu_assert = _IMPORTS[main]
        on_gpu = gpu_vendor in ("nvidia", "amd") and not python.startswith("root_in_repo docker")
        code = statement + (f"; {gpu_assert}" if gpu_assert and on_gpu else "")
        steps.append(Step("import-check", f"python -c {code!r}", (f"{python} -c {q(code)}",)))
    return steps


def user_steps(commands: tuple[str, ...]) -> list[Step]:
    """--setup-cmd: the user's own lines, run as the user in the repository with the environment first on PATH."""
    return [Step(f"setup-cmd-{i}", cmd, (f"in_env bash -c {q(cmd)}",)) for i, cmd in enumerate(commands, 1)]
