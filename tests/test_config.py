from __future__ import annotations

import pytest

from chameleon_provision.config import EnvFile, load_settings, parse_site_urls, require_cloud_credentials
from chameleon_provision.errors import ConfigError


def test_precedence_flag_env_dotenv_default() -> None:
    dotenv = EnvFile("x.env", {"PROVISION_MODEL": "from-dotenv", "PROVISION_MAX_HOURS": "48",
                               "PROVISION_NETWORK": "net9"})
    s = load_settings({"model": "from-flag"}, {"PROVISION_MODEL": "from-env", "PROVISION_MAX_HOURS": "12"}, [dotenv])
    assert s.model == "from-flag"
    assert s.max_hours == 12
    assert s.network == "net9"
    assert s.public_network == "public"
    sources = {name: source for name, _value, source in s.describe()}
    assert sources["PROVISION_MODEL"] == "flag"
    assert sources["PROVISION_MAX_HOURS"] == "environment"
    assert sources["PROVISION_NETWORK"] == "env file x.env"
    assert sources["PROVISION_PUBLIC_NETWORK"] == "default"


def test_secrets_are_masked_in_describe_and_repr() -> None:
    s = load_settings({}, {"OS_PASSWORD": "hunter2", "OPENAI_API_KEY": "sk-abc"})
    shown = " ".join(f"{n}={v}" for n, v, _ in s.describe())
    assert "hunter2" not in shown and "sk-abc" not in shown
    assert "hunter2" not in repr(s) and "sk-abc" not in repr(s)


def test_max_hours_never_exceeds_policy() -> None:
    assert load_settings({"max_hours": 500}, {}).max_hours == 168


@pytest.mark.parametrize("raw", ["abc", "-3"])
def test_bad_numbers_are_config_errors(raw: str) -> None:
    with pytest.raises(ConfigError, match="PROVISION_MAX_HOURS"):
        load_settings({}, {"PROVISION_MAX_HOURS": raw})


def test_site_switch_uses_that_sites_auth_url() -> None:
    env = {"OS_AUTH_URL": "http://h/uc/v3", "OS_REGION_NAME": "CHI@UC", "OS_USERNAME": "u",
           "PROVISION_SITE_AUTH_URLS": "CHI@UC=http://h/uc/v3,CHI@TACC=http://h/tacc/v3"}
    s = load_settings({"site": "CHI@TACC"}, env)
    creds = s.credentials_for("CHI@TACC")
    assert creds["OS_AUTH_URL"] == "http://h/tacc/v3" and creds["OS_REGION_NAME"] == "CHI@TACC"
    assert creds["OS_USERNAME"] == "u"
    with pytest.raises(ConfigError, match="unknown site"):
        s.credentials_for("CHI@MARS")


def test_site_list_parsing_rejects_garbage() -> None:
    assert parse_site_urls("A=http://a/v3, B=https://b/v3") == {"A": "http://a/v3", "B": "https://b/v3"}
    with pytest.raises(ConfigError, match="not SITE=URL"):
        parse_site_urls("CHI@UC")


def test_missing_credentials_say_what_to_do() -> None:
    with pytest.raises(ConfigError) as info:
        require_cloud_credentials(load_settings({}, {}))
    assert "OS_AUTH_URL" in info.value.message and "openrc" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="OS_APPLICATION_CREDENTIAL_SECRET"):
        require_cloud_credentials(load_settings({}, {"OS_AUTH_URL": "x", "OS_AUTH_TYPE": "v3applicationcredential",
                                                     "OS_APPLICATION_CREDENTIAL_ID": "id"}, {}))
    with pytest.raises(ConfigError, match=r"OS_CLOUD=chameleon: no clouds\.yaml found"):
        require_cloud_credentials(load_settings({}, {"OS_CLOUD": "chameleon", "HOME": "/nonexistent"}))


def test_bad_ai_mode() -> None:
    with pytest.raises(ConfigError, match="PROVISION_AI"):
        load_settings({}, {"PROVISION_AI": "maybe"})


def test_untrusted_env_file_sets_only_safe_names() -> None:
    workdir = EnvFile(".env", {"OPENAI_BASE_URL": "http://evil/v1", "OS_AUTH_URL": "http://evil/v3",
                               "CHAMELEON_API_URL": "http://evil", "PROVISION_SITE_AUTH_URLS": "CHI@UC=http://evil/v3",
                               "PROVISION_STATE_DIR": "/tmp/evil", "PROVISION_PUBLIC_KEY": "evil.pub",
                               "OPENAI_API_KEY": "sk-evil", "PROVISION_MODEL": "m2"}, trusted=False)
    s = load_settings({}, {}, [workdir])
    assert s.openai_base_url is None and s.openai_api_key is None and s.public_key is None
    assert "OS_AUTH_URL" not in s.credentials and "evil" not in s.api_url
    assert all("evil" not in url for url in s.site_auth_urls.values()) and "evil" not in str(s.state_dir)
    assert s.model == "m2"
    assert workdir.ignored() == sorted(set(workdir.values) - {"PROVISION_MODEL"})


def test_trusted_env_files_in_precedence_order() -> None:
    chosen = EnvFile("chosen.env", {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    user = EnvFile("user.env", {"OPENAI_BASE_URL": "http://127.0.0.1:2/v1", "PROVISION_NETWORK": "n2"})
    s = load_settings({}, {}, [chosen, user])
    assert s.openai_base_url == "http://127.0.0.1:1/v1" and s.network == "n2"


def test_discovery_url_alias() -> None:
    assert load_settings({}, {"CHI_RESOURCE_API_URL": "http://127.0.0.1:3"}).api_url == "http://127.0.0.1:3"
