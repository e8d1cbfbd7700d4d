from __future__ import annotations

import pytest

from chameleon_provision.config import load_settings, parse_site_urls, require_cloud_credentials
from chameleon_provision.errors import ConfigError


def test_precedence_flag_env_dotenv_default() -> None:
    s = load_settings({"model": "from-flag"}, {"PROVISION_MODEL": "from-env", "PROVISION_MAX_HOURS": "12"},
                      {"PROVISION_MODEL": "from-dotenv", "PROVISION_MAX_HOURS": "48", "PROVISION_NETWORK": "net9"})
    assert s.model == "from-flag"
    assert s.max_hours == 12
    assert s.network == "net9"
    assert s.public_network == "public"
    sources = {name: source for name, _value, source in s.describe()}
    assert sources["PROVISION_MODEL"] == "flag"
    assert sources["PROVISION_MAX_HOURS"] == "environment"
    assert sources["PROVISION_NETWORK"] == ".env"
    assert sources["PROVISION_PUBLIC_NETWORK"] == "default"


def test_secrets_are_masked_in_describe_and_repr() -> None:
    s = load_settings({}, {"OS_PASSWORD": "hunter2", "OPENAI_API_KEY": "sk-abc"}, {})
    shown = " ".join(f"{n}={v}" for n, v, _ in s.describe())
    assert "hunter2" not in shown and "sk-abc" not in shown
    assert "hunter2" not in repr(s) and "sk-abc" not in repr(s)


def test_max_hours_never_exceeds_policy() -> None:
    assert load_settings({"max_hours": 500}, {}, {}).max_hours == 168


@pytest.mark.parametrize("raw", ["abc", "-3"])
def test_bad_numbers_are_config_errors(raw: str) -> None:
    with pytest.raises(ConfigError, match="PROVISION_MAX_HOURS"):
        load_settings({}, {"PROVISION_MAX_HOURS": raw}, {})


def test_site_switch_uses_that_sites_auth_url() -> None:
    env = {"OS_AUTH_URL": "http://h/uc/v3", "OS_REGION_NAME": "CHI@UC", "OS_USERNAME": "u",
           "PROVISION_SITE_AUTH_URLS": "CHI@UC=http://h/uc/v3,CHI@TACC=http://h/tacc/v3"}
    s = load_settings({"site": "CHI@TACC"}, env, {})
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
        require_cloud_credentials(load_settings({}, {}, {}))
    assert "OS_AUTH_URL" in info.value.message and "openrc" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="OS_APPLICATION_CREDENTIAL_SECRET"):
        require_cloud_credentials(load_settings({}, {"OS_AUTH_URL": "x", "OS_AUTH_TYPE": "v3applicationcredential",
                                                     "OS_APPLICATION_CREDENTIAL_ID": "id"}, {}))
    require_cloud_credentials(load_settings({}, {"OS_CLOUD": "chameleon"}, {}))


def test_bad_ai_mode() -> None:
    with pytest.raises(ConfigError, match="PROVISION_AI"):
        load_settings({}, {"PROVISION_AI": "maybe"}, {})
