"""clouds.yaml profiles (profiles.py, config): the search path, completeness, per-site profiles, no secrets kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chameleon_provision.config import load_settings, require_cloud_credentials
from chameleon_provision.errors import ConfigError
from chameleon_provision.profiles import load_profile, search_path

UC_URL, TACC_URL = "https://chi.uc.example:5000/v3", "https://chi.tacc.example:5000/v3"


def write(path: Path, clouds: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return path


def password(url: str, region: str) -> dict:
    return {"auth": {"auth_url": url, "username": "me", "password": "s3cret-pw", "project_name": "CHI-1"},
            "region_name": region}


def test_search_path_order_and_the_first_file_with_the_profile_wins(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "OS_CLIENT_CONFIG_FILE": str(tmp_path / "named.yaml")}
    paths = search_path(env)
    assert paths[0] == tmp_path / "named.yaml" and paths[1] == Path.cwd() / "clouds.yaml"
    assert paths[2:] == [tmp_path / ".config" / "openstack" / "clouds.yaml", Path("/etc/openstack/clouds.yaml")]
    write(tmp_path / ".config" / "openstack" / "clouds.yaml", {"uc": password(UC_URL, "CHI@UC")})
    write(tmp_path / "named.yaml", {"other": password(TACC_URL, "CHI@TACC")})
    profile = load_profile("uc", env)  # not in the named file: the next one on the path has it
    assert (profile.region, profile.auth_url, profile.missing) == ("CHI@UC", UC_URL, ())
    with pytest.raises(ConfigError, match="no such profile") as info:
        load_profile("nope", env)
    assert "known: other, uc" in (info.value.hint or "")


def test_settings_take_site_and_endpoint_from_the_profile_and_keep_no_secret(tmp_path: Path) -> None:
    write(tmp_path / ".config" / "openstack" / "clouds.yaml",
          {"uc": password(UC_URL, "CHI@UC"), "tacc": password(TACC_URL, "CHI@TACC")})
    settings = load_settings({"os_cloud": "uc"}, {"HOME": str(tmp_path)})
    require_cloud_credentials(settings)
    assert settings.site == "CHI@UC" and settings.site_auth_urls["CHI@UC"] == UC_URL
    assert settings.credentials == {"OS_CLOUD": "uc", "OS_CLIENT_CONFIG_FILE": str(
        (tmp_path / ".config" / "openstack" / "clouds.yaml").resolve())}
    # the same user and project at another site: that site's profile is used there
    assert settings.credentials_for("CHI@TACC")["OS_CLOUD"] == "tacc"
    assert settings.auth_url_for("CHI@TACC") == TACC_URL
    assert "s3cret-pw" not in repr(settings) + repr(settings.describe()) + repr(settings.profile)
    assert load_settings({"os_cloud": "uc", "site": "CHI@TACC"}, {"HOME": str(tmp_path)}).site == "CHI@TACC"


def test_application_credential_profiles_are_checked_for_their_fields(tmp_path: Path) -> None:
    appcred = {"auth": {"auth_url": TACC_URL, "application_credential_id": "abc"},
               "auth_type": "v3applicationcredential", "region_name": "CHI@TACC"}
    path = write(tmp_path / "clouds.yaml", {"tacc": appcred})
    env = {"HOME": str(tmp_path), "OS_CLIENT_CONFIG_FILE": str(path)}
    with pytest.raises(ConfigError, match="lacks application_credential_secret"):
        require_cloud_credentials(load_settings({}, {**env, "OS_CLOUD": "tacc"}))
    # the secret may sit in secure.yaml beside it, as openstacksdk allows
    write(tmp_path / "secure.yaml", {"tacc": {"auth": {"application_credential_secret": "hidden"}}})
    settings = load_settings({}, {**env, "OS_CLOUD": "tacc"})
    require_cloud_credentials(settings)
    assert settings.site == "CHI@TACC" and "hidden" not in repr(settings.profile)


def test_a_broken_file_is_a_config_error_for_cloud_commands_only(tmp_path: Path) -> None:
    (tmp_path / "clouds.yaml").write_text("clouds: [unclosed\n")
    settings = load_settings({}, {"HOME": str(tmp_path), "OS_CLOUD": "x",
                                  "OS_CLIENT_CONFIG_FILE": str(tmp_path / "clouds.yaml")})
    with pytest.raises(ConfigError, match="is not valid YAML"):
        require_cloud_credentials(settings)
