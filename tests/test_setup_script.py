"""The generated setup script: shellcheck-clean, and run against a temporary root with recording stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import RunMain
from setup_node import run_script, shellcheck

from chameleon_provision.errors import InputError
from chameleon_provision.repo_analyzer import analyze
from chameleon_provision.setup.build import USER_DATA_LIMIT, SetupOptions, build

SHA = "0123456789abcdef0123456789abcdef01234567"
URL = "https://github.com/example/demo"

# Five kinds of repository, each small and written here; the corpus versions follow below.
KINDS: dict[str, dict[str, str]] = {
    "pip": {"requirements.txt": "torch==2.3.0\nnumpy\n", "train.py": "import torch\n"},
    "conda": {"environment.yml": "name: demo\ndependencies:\n  - python=3.11\n  - pytorch\n  - pytorch-cuda=12.1\n"},
    "pyproject": {"pyproject.toml": '[project]\nname = "demo"\nversion = "0.1"\ndependencies = ["jax"]\n'},
    "dockerfile": {"Dockerfile": "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y python3\n"},
    "cpu-apt": {"apt.txt": "libgl1\nffmpeg  # for video\n", "requirements.txt": "pandas\n"},
}


def _script(tmp_path: Path, files: dict[str, str], *, gpu: str = "none", commands: tuple[str, ...] = (),
            url: str = URL) -> str:
    repo = tmp_path / "repo"
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    return build(name="demo", url=url, commit=SHA, analysis=analyze(repo), gpu_vendor=gpu,
                 options=SetupOptions(commands=commands)).script


def _in_order(calls: list[str], expected: list[str]) -> None:
    """Each expected prefix appears, in this order, among the calls."""
    position = 0
    for want in expected:
        hits = [i for i, c in enumerate(calls) if i >= position and c.startswith(want)]
        assert hits, f"{want!r} not found after call {position} in:\n" + "\n".join(calls)
        position = hits[0] + 1


EXPECTED = {
    "pip": (["apt-get update", "apt-get install -y git python3-venv", f"git clone -- {URL}",
             f"git -C {{home}}/demo checkout --detach {SHA}", "python3 -m venv {home}/.provision/venv",
             "python -m pip install --upgrade pip", "python -m pip install -r requirements.txt", "nvidia-smi",
             "python -c import torch; assert torch.cuda.is_available()"], "nvidia"),
    "conda": (["apt-get install -y git", f"git clone -- {URL}", "conda env create -n demo -f environment.yml",
               "nvidia-smi", "conda run --no-capture-output -n demo python -c import torch; assert"], "nvidia"),
    "pyproject": (["apt-get install -y git python3-venv", f"git clone -- {URL}", "python3 -m venv",
                   "python -m pip install -e .", "rocm-smi",
                   "python -c import jax; assert jax.default_backend() == 'gpu'"], "amd"),
    "dockerfile": (["apt-get install -y git", f"git clone -- {URL}",
                    "docker build -t demo:0123456789ab -f Dockerfile ."], "none"),
    "cpu-apt": (["apt-get update", "apt-get install -y git libgl1 ffmpeg python3-venv", f"git clone -- {URL}",
                 "python -m pip install -r requirements.txt", "python -c import pandas"], "none"),
}


def test_a_tools_only_pyproject_is_not_installed_and_torch_libraries_check_torch(tmp_path: Path) -> None:
    script = _script(tmp_path, {"pyproject.toml": "[tool.black]\nline-length = 79\n",
                                "requirements.txt": "peft\ntransformers\n"}, gpu="nvidia")
    assert "pip install -e ." not in script and "pip install -r requirements.txt" in script
    assert "import torch; assert torch.cuda.is_available()" in script


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_runs_the_right_commands_in_order(kind: str, tmp_path: Path) -> None:
    expected, gpu = EXPECTED[kind]
    script = _script(tmp_path, KINDS[kind], gpu=gpu, commands=("python train.py --smoke",))
    node = run_script(script, tmp_path / "node")
    assert node.returncode == 0, node.log
    home = str(node.home)
    _in_order(node.commands(), [e.format(home=home) for e in expected] + ["python train.py --smoke"])
    assert node.status["state"] == "ok" and node.status["failed_step"] is None
    assert node.status["step_index"] == node.status["steps_total"]
    assert not any(c.startswith(("nvidia-smi", "rocm-smi")) for c in node.calls) or gpu != "none"
    # the repository's own commands run as the user, never as root
    assert any(c.startswith("sudo -n -u cc -H -- git clone") for c in node.calls)
    assert "step clone (2/" in node.log


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_passes_shellcheck(kind: str, tmp_path: Path) -> None:
    gpu = EXPECTED[kind][1]
    result = shellcheck(_script(tmp_path, KINDS[kind], gpu=gpu, commands=("echo 'it''s' \"$HOME\"",)), tmp_path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("kind", "fail", "step"), [
    ("pip", "python -m pip install -r*", "pip-requirements"),
    ("conda", "conda env create*", "conda"),
    ("dockerfile", "docker build*", "docker-build"),
    ("cpu-apt", "apt-get install*", "apt"),
    ("pip", "nvidia-smi*", "gpu-check"),
])
def test_a_failing_step_is_recorded_with_the_log_tail(kind: str, fail: str, step: str, tmp_path: Path) -> None:
    gpu = EXPECTED[kind][1]
    node = run_script(_script(tmp_path, KINDS[kind], gpu=gpu), tmp_path / "node", fail=fail)
    assert node.returncode == 1
    assert node.status["state"] == "failed" and node.status["failed_step"] == step == node.status["step"]
    assert "simulated failure" in node.status["log_tail"]
    assert f"setup FAILED in step {step}" in node.status["log_tail"]
    later = {"apt": "git clone", "conda": "nvidia-smi", "pip-requirements": "nvidia-smi", "gpu-check": "python -c"}
    if step in later:  # nothing after the failing step ran
        assert not any(c.startswith(later[step]) for c in node.commands())


def test_running_the_saved_copy_again_carries_on_after_the_last_good_step(tmp_path: Path) -> None:
    script = _script(tmp_path, KINDS["pip"], gpu="nvidia")
    first = run_script(script, tmp_path / "node", fail="nvidia-smi*")
    assert first.status["failed_step"] == "gpu-check"
    saved = (first.home / ".provision" / "setup.sh").read_text()
    again = run_script(saved, tmp_path / "node")
    assert again.status["state"] == "ok"
    assert again.commands()[0] == "nvidia-smi"  # apt, clone and installs were not repeated


def test_a_log_tail_with_quotes_backslashes_and_control_characters_stays_valid_json(tmp_path: Path) -> None:
    script = _script(tmp_path, KINDS["cpu-apt"], commands=("printf 'a \"quoted\" \\\\ back\\tslash\\001\\n'; exit 3",))
    node = run_script(script, tmp_path / "node")
    assert node.returncode == 3
    raw = (node.home / ".provision" / "setup.status").read_text()
    status = json.loads(raw)
    assert status["failed_step"] == "setup-cmd-1" and status["exit_code"] == 3
    assert 'a "quoted" \\ back\tslash' in status["log_tail"]


def test_a_hostile_requirements_line_never_reaches_the_shell(tmp_path: Path) -> None:
    hostile = 'numpy; $(touch "$HOME/pwned") `id` \'\n'
    script = _script(tmp_path, {"requirements.txt": hostile})
    assert "pwned" not in script and "`id`" not in script
    node = run_script(script, tmp_path / "node")
    assert node.returncode == 0 and not (node.home / "pwned").exists()


@pytest.mark.parametrize("line", ["curl; rm -rf /", "$(reboot)", "-o=APT::x", "Curl"])
def test_an_apt_name_outside_debian_policy_is_refused(line: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"apt\.txt:2 .* is not a Debian package name"):
        _script(tmp_path, {"apt.txt": f"git\n{line}\n"})


def test_addresses_and_names_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be cloned"):
        _script(tmp_path, KINDS["pip"], url="https://github.com/a/b;reboot")
    with pytest.raises(InputError, match="folder name"):
        build(name="../x", url=URL, commit=SHA, analysis=analyze(tmp_path / "repo"), gpu_vendor="none",
              options=SetupOptions())


def test_a_private_repository_waits_for_the_forwarded_agent(tmp_path: Path) -> None:
    script = _script(tmp_path, KINDS["pip"], url="git@github.com:example/private.git")
    assert "BEGIN OPENSSH" not in script and "id_rsa" not in script  # never a key
    node = run_script(script, tmp_path / "node")
    assert node.returncode == 0 and node.status["state"] == "waiting" and node.status["step"] == "clone"
    assert not any(c.startswith("git clone") for c in node.commands())


def test_setup_commands_too_large_for_nova_are_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"over Nova's {USER_DATA_LIMIT}-byte user_data limit"):
        _script(tmp_path, KINDS["pip"], commands=("echo " + "x" * 50_000,))


# alpaca-lora's pyproject.toml only configures black and isort: nothing to pip install -e
CORPUS = {"tloen__alpaca-lora": ["python -m pip install -r requirements.txt", "python -c import torch"],
          "openai__whisper": ["python -m pip install -r requirements.txt", "python -m pip install -e .",
                              "nvidia-smi", "python -c import torch"],
          "CompVis__stable-diffusion": ["conda env create -n demo -f environment.yaml", "nvidia-smi",
                                        "conda run --no-capture-output -n demo python -c import torch"],
          "jakevdp__PythonDataScienceHandbook": ["conda env create -n demo -f environment.yml",
                                                 "conda run --no-capture-output -n demo python -c import sklearn"]}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_repositories(name: str, shared_dir: Path, tmp_path: Path) -> None:
    files = shared_dir / "corpus" / "dev" / name / "files"
    if not files.is_dir():
        pytest.skip(f"corpus repository {name} is not here")
    analysis = analyze(files)
    script = build(name="demo", url=URL, commit=SHA, analysis=analysis, gpu_vendor=analysis.requirements.gpu.vendor,
                   options=SetupOptions()).script
    assert shellcheck(script, tmp_path).returncode == 0
    node = run_script(script, tmp_path / "node")
    assert node.status["state"] == "ok", node.log
    _in_order(node.commands(), [f"git clone -- {URL}", *CORPUS[name]])


def test_setup_cmd_needs_the_setup_and_a_command() -> None:
    with pytest.raises(InputError, match="--setup-cmd needs the setup"):
        SetupOptions(enabled=False, commands=("make",))
    with pytest.raises(InputError, match="an empty one"):
        SetupOptions(commands=(" ",))


def test_the_cli_refuses_setup_cmd_with_no_setup_before_anything_else(tmp_path: Path, run_main: RunMain) -> None:
    code, _, err = run_main(str(tmp_path), "--no-setup", "--setup-cmd", "make", "--plan-only")
    assert code == 2 and "--setup-cmd needs the setup" in err
