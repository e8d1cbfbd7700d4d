"""Settings: flag > environment > env files > default, each value remembering where it came from.

Env files are read by the entrypoint (never at import) and passed in as `EnvFile`s, so tests stay
hermetic and `-v` can say which source won. A `.env` in the working directory is untrusted: it
usually belongs to the repository being provisioned, so it may only set values that cannot send a
secret anywhere (see WORKDIR_SAFE); endpoints, credentials and key paths come from trusted places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from platformdirs import user_state_dir

from chameleon_provision.errors import ConfigError

if TYPE_CHECKING:
    from chameleon_provision.profiles import Profile

# Chameleon's published bare-metal sites (reference/chameleon.md §7).
CHAMELEON_SITES: dict[str, str] = {
    "CHI@UC": "https://chi.uc.chameleoncloud.org:5000/v3",
    "CHI@TACC": "https://chi.tacc.chameleoncloud.org:5000/v3",
    "CHI@NCAR": "https://chi.hpc.ucar.edu:5000/v3",
    "CHI@NU": "https://sl-ciab.northwestern.edu:5000/v3",
    "CHI@NRP": "https://chi.nrp.ai:5000/v3",
}
AIMode = Literal["auto", "on", "off"]
AI_MODES: tuple[str, ...] = get_args(AIMode)
# session: one interactive `openstack` process per site (one token); process: one process per command
RunnerMode = Literal["session", "process"]
RUNNER_MODES: tuple[str, ...] = get_args(RunnerMode)
DEFAULT_API_URL = "https://api.chameleoncloud.org"
MAX_LEASE_HOURS = 168  # Chameleon refuses leases over 7 days
# --yes alone approves a run up to this many service units: a day on a GPU node (2 SU/h) fits, a week on
# four A100s does not. Above it, an explicit --max-su or an interactive yes is needed.
DEFAULT_MAX_SU = 100.0
SECRET_NAMES = ("OS_PASSWORD", "OS_APPLICATION_CREDENTIAL_SECRET", "OPENAI_API_KEY", "OS_TOKEN", "OS_CLIENT_SECRET")
CREDENTIAL_NAMES = (
    "OS_AUTH_URL", "OS_AUTH_TYPE", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_PROJECT_ID",
    "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID", "OS_USER_DOMAIN_ID",
    "OS_IDENTITY_API_VERSION", "OS_INTERFACE", "OS_REGION_NAME", "OS_CLOUD",
    "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET", "OS_APPLICATION_CREDENTIAL_NAME",
    "OS_PROTOCOL", "OS_IDENTITY_PROVIDER", "OS_DISCOVERY_ENDPOINT", "OS_CLIENT_ID", "OS_CLIENT_SECRET",
    "OS_ACCESS_TOKEN_TYPE", "OS_CLIENT_CONFIG_FILE", "OS_TOKEN",
)


# What a working-directory `.env` may set. Everything else there (OS_*, OPENAI_*, every URL, the
# state directory, the public key) could point a secret or an SSH login at someone else's host.
WORKDIR_SAFE = frozenset({
    "PROVISION_AI", "PROVISION_MODEL", "PROVISION_SITE", "PROVISION_MAX_HOURS", "PROVISION_NETWORK",
    "PROVISION_PUBLIC_NETWORK", "PROVISION_OPENSTACK_TIMEOUT", "PROVISION_LEASE_TIMEOUT",
    "PROVISION_SERVER_TIMEOUT", "PROVISION_SSH_TIMEOUT", "PROVISION_POLL_SECONDS", "PROVISION_OPENSTACK_RUNNER",
})


@dataclass(frozen=True)
class EnvFile:
    """One dotenv file's values; an untrusted file contributes only WORKDIR_SAFE names."""

    path: str
    values: Mapping[str, str | None] = field(repr=False)
    trusted: bool = True

    def usable(self) -> dict[str, str | None]:
        return {k: v for k, v in self.values.items() if self.trusted or k in WORKDIR_SAFE}

    def ignored(self) -> list[str]:
        return sorted(k for k in self.values if not self.trusted and k not in WORKDIR_SAFE)


@dataclass(frozen=True)
class Settings:
    site: str
    site_auth_urls: Mapping[str, str]
    credentials: Mapping[str, str] = field(repr=False)
    api_url: str = DEFAULT_API_URL
    ai_mode: AIMode = "auto"
    model: str = "gpt-4o-mini"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    state_dir: Path = Path(".")
    max_hours: float = MAX_LEASE_HOURS
    max_su: float = DEFAULT_MAX_SU
    network: str = "sharednet1"
    public_network: str = "public"
    public_key: Path | None = None
    openstack_timeout: float = 180.0
    openstack_runner: RunnerMode = "session"
    lease_timeout: float = 900.0
    server_timeout: float = 2400.0
    ssh_timeout: float = 600.0
    setup_timeout: float = 3600.0
    poll_seconds: float = 10.0
    sources: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> (shown value, source)
    profile: Profile | None = None  # the clouds.yaml profile OS_CLOUD / --os-cloud names
    profile_error: ConfigError | None = field(default=None, repr=False)  # why that profile cannot be used

    def credentials_for(self, site: str) -> dict[str, str]:
        """OS_* settings pointing at `site`: its own auth URL and region, the same identity.

        With a clouds.yaml profile, a profile of the same file for that site's region wins (Chameleon's
        sites are separate clouds, and an application credential belongs to one of them).
        """
        creds = dict(self.credentials)
        region = creds.get("OS_REGION_NAME") or (self.profile.region if self.profile else None)
        if self.profile is not None and site != region and site in self.profile.siblings:
            creds.update(self.profile.cli_environment(self.profile.siblings[site][0]))
            return creds
        if site != region:
            if site not in self.site_auth_urls:
                known = ", ".join(sorted(self.site_auth_urls))
                raise ConfigError(f"unknown site {site!r}", hint=f"known sites: {known}")
            creds["OS_AUTH_URL"] = self.site_auth_urls[site]
            creds["OS_REGION_NAME"] = site
        return creds

    def auth_url_for(self, site: str) -> str | None:
        """The identity endpoint `site`'s runs talk to (a clouds.yaml profile keeps it in the file, not in OS_*)."""
        return self.credentials_for(site).get("OS_AUTH_URL") or self.site_auth_urls.get(site)

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, source) rows for `-v`, with secrets masked."""
        return [(name, shown, source) for name, (shown, source) in sorted(self.sources.items())]


def _shown(name: str, value: Any) -> str:
    if value in (None, ""):
        return "(unset)"
    return "****" if name in SECRET_NAMES else str(value)


def parse_site_urls(text: str) -> dict[str, str]:
    """'CHI@UC=https://…,CHI@TACC=https://…' -> mapping; a malformed entry is a config error."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        site, sep, url = item.partition("=")
        if not sep or not site or not url.startswith(("http://", "https://")):
            raise ConfigError(f"PROVISION_SITE_AUTH_URLS entry {item!r} is not SITE=URL",
                              hint="e.g. CHI@UC=https://chi.uc.chameleoncloud.org:5000/v3")
        out[site.strip()] = url.strip()
    return out


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str],
                  env_files: Sequence[EnvFile] = ()) -> Settings:
    """`env_files` in order of precedence, highest first."""
    sources: dict[str, tuple[str, str]] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = [("environment", environ)]
    layers += [(f"env file {f.path}", f.usable()) for f in env_files]

    def pick(name: str, flag: str | None = None, default: Any = None) -> Any:
        if flag and flags.get(flag) not in (None, ""):
            sources[name] = (_shown(name, flags[flag]), "flag")
            return flags[flag]
        for label, src in layers:
            if src.get(name) not in (None, ""):
                sources[name] = (_shown(name, src[name]), label)
                return src[name]
        if default not in (None, ""):
            sources[name] = (_shown(name, default), "default")
        return default

    credentials = {n: str(v) for n in CREDENTIAL_NAMES if (v := pick(n)) is not None}
    profile, profile_error = None, None
    if cloud_name := pick("OS_CLOUD", "os_cloud"):
        from chameleon_provision.profiles import load_profile  # reads clouds.yaml only when a profile is named

        search = {"HOME": str(environ.get("HOME") or ""), "XDG_CONFIG_HOME": str(environ.get("XDG_CONFIG_HOME") or ""),
                  "OS_CLIENT_CONFIG_FILE": str(credentials.get("OS_CLIENT_CONFIG_FILE") or "")}
        credentials["OS_CLOUD"] = str(cloud_name)
        try:
            profile = load_profile(str(cloud_name), search)
        except ConfigError as exc:  # reported by the commands that need the cloud, not by `analyze`
            profile_error = exc
        else:
            credentials.update(profile.cli_environment())  # the CLI reads the same file: a name and a path
    # An explicit site list replaces Chameleon's published one (a twin or a private testbed).
    sites = parse_site_urls(pick("PROVISION_SITE_AUTH_URLS", default="") or "") or dict(CHAMELEON_SITES)
    default_site = credentials.get("OS_REGION_NAME") or (profile.region if profile else None) or "CHI@UC"
    site = pick("PROVISION_SITE", "site", default=default_site)
    if "OS_REGION_NAME" in credentials and "OS_AUTH_URL" in credentials:
        sites.setdefault(credentials["OS_REGION_NAME"], credentials["OS_AUTH_URL"])
    if profile is not None:  # the profile's own endpoints are the ones that work with its credentials
        sites.update({r: url for r, (_name, url) in profile.siblings.items() if url})
        if profile.region and profile.auth_url:
            sites[profile.region] = profile.auth_url
    raw_mode = str(pick("PROVISION_AI", "ai", default="auto")).lower()
    if raw_mode not in AI_MODES:
        raise ConfigError(f"PROVISION_AI must be auto, on or off, not {raw_mode!r}")
    ai_mode = cast(AIMode, raw_mode)
    raw_runner = str(pick("PROVISION_OPENSTACK_RUNNER", default="session")).lower()
    if raw_runner not in RUNNER_MODES:
        raise ConfigError(f"PROVISION_OPENSTACK_RUNNER must be session or process, not {raw_runner!r}")
    public_key = pick("PROVISION_PUBLIC_KEY", "public_key")

    def number(name: str, flag: str | None, default: float, *, zero_ok: bool = False) -> float:
        raw = pick(name, flag, default=default)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
        if value < 0 or (value == 0 and not zero_ok):
            raise ConfigError(f"{name} must be {'zero or more' if zero_ok else 'positive'}, not {raw!r}")
        return value

    max_hours = number("PROVISION_MAX_HOURS", "max_hours", MAX_LEASE_HOURS)
    return Settings(
        site=str(site),
        site_auth_urls=sites,
        credentials=credentials,
        api_url=str(pick("CHAMELEON_API_URL") or pick("CHI_RESOURCE_API_URL", default=DEFAULT_API_URL)),
        ai_mode=ai_mode,
        model=str(pick("PROVISION_MODEL", "model", default="gpt-4o-mini")),
        openai_api_key=pick("OPENAI_API_KEY"),
        openai_base_url=pick("OPENAI_BASE_URL"),
        state_dir=Path(str(pick("PROVISION_STATE_DIR", default=user_state_dir("chameleon-provision")))).expanduser(),
        max_hours=min(max_hours, MAX_LEASE_HOURS),
        max_su=number("PROVISION_MAX_SU", "max_su", DEFAULT_MAX_SU),
        network=str(pick("PROVISION_NETWORK", default="sharednet1")),
        public_network=str(pick("PROVISION_PUBLIC_NETWORK", default="public")),
        public_key=Path(str(public_key)).expanduser() if public_key else None,
        openstack_timeout=number("PROVISION_OPENSTACK_TIMEOUT", None, 180.0),
        openstack_runner=cast(RunnerMode, raw_runner),
        lease_timeout=number("PROVISION_LEASE_TIMEOUT", None, 900.0),
        server_timeout=number("PROVISION_SERVER_TIMEOUT", None, 2400.0),
        ssh_timeout=number("PROVISION_SSH_TIMEOUT", None, 600.0, zero_ok=True),
        setup_timeout=number("PROVISION_SETUP_TIMEOUT", None, 3600.0, zero_ok=True),
        poll_seconds=number("PROVISION_POLL_SECONDS", None, 10.0),
        sources=sources,
        profile=profile,
        profile_error=profile_error,
    )


def require_cloud_credentials(settings: Settings) -> None:
    """Say precisely what is missing before any cloud call is attempted."""
    creds = settings.credentials
    if settings.profile_error is not None:
        raise settings.profile_error
    if settings.profile is not None:
        from chameleon_provision.profiles import require_complete

        require_complete(settings.profile)
        return
    if creds.get("OS_CLOUD"):
        return
    if not creds.get("OS_AUTH_URL"):
        raise ConfigError("no OS_AUTH_URL is set", hint="source your Chameleon openrc or set OS_CLOUD")
    auth_type = creds.get("OS_AUTH_TYPE", "password")
    if "applicationcredential" in auth_type:
        missing = [n for n in ("OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET") if not creds.get(n)]
    elif "oidc" in auth_type:
        missing = [n for n in ("OS_USERNAME", "OS_PASSWORD") if not creds.get(n)]
    else:
        missing = [n for n in ("OS_USERNAME", "OS_PASSWORD") if not creds.get(n)]
        if not (creds.get("OS_PROJECT_NAME") or creds.get("OS_PROJECT_ID")):
            missing.append("OS_PROJECT_NAME or OS_PROJECT_ID")
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}", hint="source your Chameleon openrc or set OS_CLOUD")
