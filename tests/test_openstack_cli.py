from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from chameleon_provision.cloud.openstack_cli import (
    SubprocessRunner,
    classify,
    cli_environment,
    decode_listish,
    error_line,
    parse_json_output,
)
from chameleon_provision.errors import AuthenticationError, CloudUnreachableError, OpenStackError

NOISE = "Could not load 'reservation_host_unset': module 'blazarclient.v1.shell_commands.hosts' has no attribute"


def test_parse_skips_blazar_prefix_line() -> None:
    out = 'Created a new lease:\n{"id": "L1", "name": "x"}\n'
    assert parse_json_output(out, command="reservation lease create") == {"id": "L1", "name": "x"}


def test_parse_empty_output_is_none_and_garbage_is_an_error() -> None:
    assert parse_json_output("", command="server delete") is None
    with pytest.raises(OpenStackError, match="printed no JSON"):
        parse_json_output("Did you mean one of these?", command="x")


def test_decode_listish_reads_string_encoded_reservations() -> None:
    text = json.dumps({"id": "r1", "resource_type": "physical:host"}, indent=4) + "\n" + json.dumps(
        {"id": "r2", "resource_type": "virtual:floatingip"}, indent=4)
    assert [r["id"] for r in decode_listish(text)] == ["r1", "r2"]
    assert decode_listish("") == []
    assert decode_listish([{"id": 1}]) == [{"id": 1}]


def test_decode_listish_on_real_cli_output(shared_dir: Path) -> None:
    data = json.loads((shared_dir / "chameleon-samples/cli/lease_show.stdout.txt").read_text())
    kinds = [r["resource_type"] for r in decode_listish(data["reservations"])]
    assert kinds == ["physical:host", "virtual:floatingip"]


def test_error_line_drops_the_blazarclient_noise() -> None:
    assert error_line(f"{NOISE}\nERROR: Not enough resources available\n") == "ERROR: Not enough resources available"


def test_classify_auth_and_unreachable() -> None:
    assert isinstance(classify("token issue", "The request you have made requires authentication. (HTTP 401)", 1),
                      AuthenticationError)
    err = classify("token issue", "Unable to establish connection to http://127.0.0.1:1/v3/auth/tokens: boom", 1)
    assert isinstance(err, CloudUnreachableError)
    other = classify("server create", f"{NOISE}\nBadRequestException: 400: Invalid key_name provided.", 1)
    assert type(other) is OpenStackError
    assert other.message.endswith("Invalid key_name provided.")


def test_environment_keeps_only_os_settings() -> None:
    env = cli_environment({"OS_AUTH_URL": "http://x/v3", "OPENAI_API_KEY": "sk-secret"},
                          base={"PATH": "/bin", "OPENAI_API_KEY": "sk-secret", "OS_PASSWORD": "stale"})
    assert env["OS_AUTH_URL"] == "http://x/v3"
    assert "OPENAI_API_KEY" not in env
    assert "OS_PASSWORD" not in env  # only the chosen site's credentials, not whatever the shell had


def _fake_cli(tmp_path: Path, body: str) -> str:
    script = tmp_path / "openstack"
    script.write_text(f"#!{sys.executable}\nimport sys, json, os, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_runner_passes_an_argument_list_and_adds_json_format(tmp_path: Path) -> None:
    exe = _fake_cli(tmp_path, "print(json.dumps({'argv': sys.argv[1:], 'auth': os.environ.get('OS_AUTH_URL')}))")
    runner = SubprocessRunner({"OS_AUTH_URL": "http://a/v3"}, executable=exe, timeout=20)
    out = runner.run(["server", "show", "name with spaces; rm -rf /"])
    assert out["argv"] == ["server", "show", "name with spaces; rm -rf /", "-f", "json"]
    assert out["auth"] == "http://a/v3"
    assert runner.calls == 1


def test_runner_raises_typed_error_with_cli_line(tmp_path: Path) -> None:
    exe = _fake_cli(tmp_path, f"sys.stderr.write({NOISE!r} + '\\nERROR: Cannot delete lease in state STARTING\\n')"
                              "\nsys.exit(1)")
    runner = SubprocessRunner({}, executable=exe, timeout=20)
    with pytest.raises(OpenStackError) as info:
        runner.run(["reservation", "lease", "delete", "x"], output="none")
    assert info.value.message.endswith("ERROR: Cannot delete lease in state STARTING")
    assert info.value.returncode == 1
    assert "Could not load" not in info.value.stderr


def test_runner_times_out(tmp_path: Path) -> None:
    exe = _fake_cli(tmp_path, "time.sleep(10)")
    runner = SubprocessRunner({}, executable=exe, timeout=0.5)
    with pytest.raises(OpenStackError, match="did not finish"):
        runner.run(["token", "issue"])
