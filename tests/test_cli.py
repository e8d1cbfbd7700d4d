"""The click shell: exit codes, one-line errors, and nothing created on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import RunMain

import provision
from chameleon_provision import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_version_and_help() -> None:
    runner = CliRunner()
    assert __version__ in runner.invoke(provision.cli, ["--version"]).output
    help_text = runner.invoke(provision.cli, ["--help"]).output
    for command in ("analyze", "destroy", "doctor", "status", "twin"):
        assert command in help_text
    from chameleon_twin.cli import twin_group

    assert provision.cli.commands["twin"].help == twin_group.help  # the line listed without loading the twin
    up_help = runner.invoke(provision.cli, ["up", "--help"]).output
    for option in ("--plan-only", "--json", "--yes", "--ai", "--site", "--node-type", "--image", "--hours",
                   "--max-hours", "--keep-on-failure", "--twin", "--traceback", "--public-key"):
        assert option in up_help


def test_the_twin_loads_only_when_its_command_runs() -> None:
    # A fresh interpreter: this test process has imported the twin already.
    check = ("import sys; from click.testing import CliRunner; import provision\n"
             "def loaded(): return sorted(m for m in sys.modules if m.startswith('chameleon_twin'))\n"
             "assert not loaded(), loaded()\n"
             "out = CliRunner().invoke(provision.cli, ['--help']).output\n"
             "import re\n"
             "assert re.search(r'twin +Run the local Chameleon twin', out) and not loaded(), (out, loaded())\n"
             "CliRunner().invoke(provision.cli, ['twin', 'env'])\n"
             "assert 'chameleon_twin.cli' in loaded()\n")
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_status_with_no_runs(run_main: RunMain) -> None:
    code, out, _ = run_main("status", "--json")
    assert code == 0 and json.loads(out) == {"schema_version": 1, "runs": []}


def test_destroy_unknown_run_is_a_state_error(run_main: RunMain) -> None:
    code, _, err = run_main("destroy", "nope", "--yes")
    assert code == 14
    assert err.strip().splitlines() == ["Error: no run 'nope' is recorded (`provision status` lists your runs)"]
    assert "Traceback" not in err


def test_missing_credentials_stop_before_anything(run_main: RunMain) -> None:
    code, _, err = run_main("examples/pandas-sklearn", "--plan-only")
    assert code == 3
    assert "OS_AUTH_URL" in err and "openrc" in err and len(err.strip().splitlines()) == 1


def test_creating_without_terminal_or_yes_is_refused(run_main: RunMain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:9/v3")
    monkeypatch.setenv("OS_USERNAME", "u")
    monkeypatch.setenv("OS_PASSWORD", "p")
    monkeypatch.setenv("OS_PROJECT_NAME", "CHI-1")
    code, _, err = run_main("examples/pandas-sklearn")
    assert code == 13 and "--yes" in err


def test_json_errors_are_one_document(run_main: RunMain) -> None:
    code, out, _ = run_main("destroy", "nope", "--yes", "--json")
    assert code == 14
    assert json.loads(out)["error"]["type"] == "StateError"


def test_traceback_flag_reraises(capsys: pytest.CaptureFixture[str]) -> None:
    from chameleon_provision.errors import StateError

    with pytest.raises(StateError):
        provision.main(["destroy", "nope", "--yes", "--traceback"])


def test_doctor_reports_failing_checks(run_main: RunMain) -> None:
    code, out, _ = run_main("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1
    assert checks["openstack CLI"]["ok"] is True
    assert checks["credentials"]["ok"] is False
    assert checks["AI"]["ok"] is True and "rules decide" in checks["AI"]["detail"]


def test_env_file_is_read(run_main: RunMain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text("PROVISION_MODEL=from-dotenv\nOS_PASSWORD=dotenv-secret\n")
    monkeypatch.setenv("PROVISION_ENV_FILE", str(env_file))
    code, _, err = run_main("status", "-v")
    assert code == 0
    assert f"PROVISION_MODEL = from-dotenv  [env file {env_file}]" in err
    assert "OS_PASSWORD = ****" in err and "dotenv-secret" not in err


def test_workdir_env_file_cannot_redirect_secrets(run_main: RunMain, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.delenv("PROVISION_ENV_FILE")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("OPENAI_BASE_URL=http://evil.example/v1\nOS_AUTH_URL=http://evil.example/v3\n"
                                   "PROVISION_PUBLIC_KEY=./attacker.pub\nPROVISION_MODEL=from-workdir\n")
    code, _, err = run_main("status", "-v")
    assert code == 0
    assert "evil.example" not in err and "attacker" not in err.split("ignoring")[0]
    assert "PROVISION_MODEL = from-workdir  [env file .env]" in err
    assert "ignoring OPENAI_BASE_URL, OS_AUTH_URL, PROVISION_PUBLIC_KEY in .env" in err


def test_user_config_env_file_is_trusted(run_main: RunMain, monkeypatch: pytest.MonkeyPatch,
                                         isolated_env: Path, tmp_path: Path) -> None:
    monkeypatch.delenv("PROVISION_ENV_FILE")
    monkeypatch.chdir(tmp_path)
    config = isolated_env / ".config" / "chameleon-provision"
    config.mkdir(parents=True)
    (config / ".env").write_text("OS_AUTH_URL=http://127.0.0.1:9/v3\n")
    code, _, err = run_main("status", "-v")
    assert code == 0 and "OS_AUTH_URL = http://127.0.0.1:9/v3  [env file" in err and "ignoring" not in err


def test_env_file_flag_is_trusted_and_must_exist(run_main: RunMain, tmp_path: Path) -> None:
    chosen = tmp_path / "mine.env"
    chosen.write_text("OPENAI_BASE_URL=http://127.0.0.1:9/v1\n")
    code, _, err = run_main("status", "-v", "--env-file", str(chosen))
    assert code == 0 and f"OPENAI_BASE_URL = http://127.0.0.1:9/v1  [env file {chosen}]" in err
    code, _, err = run_main("status", "--env-file", str(tmp_path / "missing.env"))
    assert code == 3 and "no such file" in err


@pytest.mark.parametrize(("arg", "needle"), [
    ("ext::sh -c touch% {sentinel}", "git transport"),
    ("--upload-pack=touch {sentinel}", "starts with '-'"),
    ("file:///etc", "file://"),
    ("http://github.com/owner/repo", "use https://"),
    ("/no/such/folder", "no such folder"),
    ("git@github.com:owner/repo.git;touch {sentinel}", "neither"),
])
def test_hostile_repository_arguments_are_refused_before_anything_runs(
        arg: str, needle: str, tmp_path: Path, run_main: RunMain) -> None:
    sentinel = tmp_path / "pwned"
    code, out, err = run_main("up", "--plan-only", "--", arg.format(sentinel=sentinel))
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not sentinel.exists()
    assert out == ""


def test_a_file_instead_of_a_repository(tmp_path: Path, run_main: RunMain) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("x")
    code, _, err = run_main(str(f), "--plan-only")
    assert code == 2 and "is a file, not a folder" in err


@pytest.mark.parametrize("name", ["--upload-pack=x", "-x", "a b", "x" * 80, "ünï", ""])
def test_unusable_names_are_refused_before_anything_runs(name: str,
                                                         run_main: RunMain) -> None:
    code, out, err = run_main("up", "examples/pandas-sklearn", "--plan-only", f"--name={name}")
    assert code == 2 and "--name" in err and len(err.strip().splitlines()) == 1 and out == ""
