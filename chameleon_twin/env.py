"""The environment that points the `openstack` CLI and `provision` at the twin, like a Chameleon openrc."""

from __future__ import annotations

from chameleon_twin.inventory import SITES
from chameleon_twin.keystone import DOMAIN, PASSWORD, PROJECT_NAME, USERNAME, app_credential

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8774  # Nova's usual port; free on a workstation, and easy to remember
DEFAULT_SITE = "CHI@UC"
AUTH_MODES = ("password", "appcred")


def base_url(host: str, port: int) -> str:
    # A server listening on every interface is still reached over loopback.
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def auth_url(base: str, site: str) -> str:
    return f"{base}/{site_uid(site)}/identity/v3"


def site_uid(site: str) -> str:
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; the twin has {', '.join(SITES)}")
    return SITES[site]


def twin_env(base: str, site: str = DEFAULT_SITE, auth: str = "password") -> dict[str, str]:
    """OS_* settings for one twin site plus what `provision` reads to find the others.

    `auth="password"` gives the v3password openrc; `"appcred"` the site's application credential
    (without OS_USERNAME, which Keystone would otherwise try to combine with it).
    """
    uid = site_uid(site)
    if auth not in AUTH_MODES:
        raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}")
    env = {"OS_AUTH_URL": auth_url(base, site)}
    if auth == "password":
        env.update({"OS_AUTH_TYPE": "v3password", "OS_USERNAME": USERNAME, "OS_PASSWORD": PASSWORD,
                    "OS_PROJECT_NAME": PROJECT_NAME, "OS_USER_DOMAIN_NAME": DOMAIN["name"],
                    "OS_PROJECT_DOMAIN_NAME": DOMAIN["name"]})
    else:
        cred_id, secret = app_credential(uid)
        env.update({"OS_AUTH_TYPE": "v3applicationcredential", "OS_APPLICATION_CREDENTIAL_ID": cred_id,
                    "OS_APPLICATION_CREDENTIAL_SECRET": secret})
    env.update({
        "OS_IDENTITY_API_VERSION": "3",
        "OS_INTERFACE": "public",
        "OS_REGION_NAME": site,
        "CHAMELEON_API_URL": f"{base}/api",
        "CHI_RESOURCE_API_URL": f"{base}/api",  # the same API, under the name python-chi reads
        "PROVISION_SITE_AUTH_URLS": ",".join(f"{name}={auth_url(base, name)}" for name in SITES),
        # The twin's floating IPs are not routed anywhere, so nothing would ever answer on port 22;
        # and its clock runs at --speed, so polling every 10 s would only add waiting.
        "PROVISION_SSH_TIMEOUT": "0",
        "PROVISION_POLL_SECONDS": "1",
    })
    return env
