"""clouds.yaml profiles end to end: two profiles, two twin sites, no OS_* variable anywhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from helpers import RunMain

from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
CPU_REPO = str(Path(__file__).resolve().parents[1] / "examples" / "pandas-sklearn")


def clouds_yaml(twin: TwinServer) -> dict:
    """`uc`: a password profile for CHI@UC; `tacc`: CHI@TACC's application credential, as users keep them."""
    uc, tacc = twin.env("CHI@UC"), twin.env("CHI@TACC", auth="appcred")
    return {"clouds": {
        "uc": {"auth": {"auth_url": uc["OS_AUTH_URL"], "username": uc["OS_USERNAME"], "password": uc["OS_PASSWORD"],
                        "project_name": uc["OS_PROJECT_NAME"], "user_domain_name": uc["OS_USER_DOMAIN_NAME"],
                        "project_domain_name": uc["OS_PROJECT_DOMAIN_NAME"]},
               "auth_type": "password", "region_name": "CHI@UC", "interface": "public", "identity_api_version": 3},
        "tacc": {"auth": {"auth_url": tacc["OS_AUTH_URL"],
                          "application_credential_id": tacc["OS_APPLICATION_CREDENTIAL_ID"],
                          "application_credential_secret": tacc["OS_APPLICATION_CREDENTIAL_SECRET"]},
                 "auth_type": "v3applicationcredential", "region_name": "CHI@TACC", "interface": "public",
                 "identity_api_version": 3},
    }}


def test_two_profiles_drive_two_runs_at_two_sites_and_status_and_destroy_reuse_them(
        twin: TwinServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_main: RunMain) -> None:
    config = tmp_path / "home" / ".config" / "openstack"
    config.mkdir(parents=True)
    data = clouds_yaml(twin)
    (config / "clouds.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHAMELEON_API_URL", twin.env()["CHAMELEON_API_URL"])  # the discovery API, not OpenStack
    monkeypatch.setenv("PROVISION_POLL_SECONDS", "0.3")
    monkeypatch.setenv("PROVISION_SSH_TIMEOUT", "0")
    assert not [k for k in os.environ if k.startswith("OS_")]

    code, out, err = run_main(CPU_REPO, "--os-cloud", "uc", "--yes", "--json")
    assert code == 0, err
    at_uc = json.loads(out)
    monkeypatch.setenv("OS_CLOUD", "tacc")  # the other way to name a profile
    code, out, err = run_main(CPU_REPO, "--yes", "--json")
    assert code == 0, err
    at_tacc = json.loads(out)
    monkeypatch.delenv("OS_CLOUD")
    assert (at_uc["resource"]["site"], at_tacc["resource"]["site"]) == ("CHI@UC", "CHI@TACC")
    clouds = data["clouds"]
    secrets = [clouds["uc"]["auth"]["password"], clouds["tacc"]["auth"]["application_credential_secret"]]
    state = (Path(os.environ["PROVISION_STATE_DIR"]) / "runs.sqlite3").read_bytes()
    assert not any(s.encode() in state or s in out or s in err for s in secrets)

    code, out, err = run_main("status", "--json")  # no profile named: each run's own is used
    assert code == 0, err
    runs = {r["run_id"]: r for r in json.loads(out)["runs"]}
    for doc in (at_uc, at_tacc):
        view = runs[doc["run_id"]]
        assert view["checked_with_cloud"] is True and view["drift"] == [] and view["profile"] in ("uc", "tacc")
    for doc in (at_uc, at_tacc):
        code, out, err = run_main("destroy", doc["run_id"], "--yes", "--json")
        assert code == 0, err
        assert any(x.startswith("lease") for x in json.loads(out)["removed"])
