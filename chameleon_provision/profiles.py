"""OpenStack `clouds.yaml` profiles (`OS_CLOUD` / `--os-cloud NAME`), read the way the openstack CLI reads them.

The CLI itself authenticates from the profile: runs pass it `OS_CLOUD` and the file's path
(`OS_CLIENT_CONFIG_FILE`) and nothing else, so the profile's password or application credential
secret never passes through this program's settings, output or state. This module reads the file
only for what our own checks need: does the profile exist and look complete, which site (region)
and identity endpoint it names, and which other profile of the same file serves another site.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chameleon_provision.errors import ConfigError

FILE_NAME = "clouds.yaml"
# `--os-cloud NAME` of the command being run: it wins over OS_CLOUD and over the profile a run recorded.
chosen: ContextVar[str | None] = ContextVar("chosen_profile", default=None)


def search_path(environ: Mapping[str, str]) -> list[Path]:
    """OS_CLIENT_CONFIG_FILE, then the working directory, the user's and the system's folder (openstacksdk's order)."""
    paths = [Path(environ["OS_CLIENT_CONFIG_FILE"]).expanduser()] if environ.get("OS_CLIENT_CONFIG_FILE") else []
    home = Path(environ.get("HOME") or Path.home())
    config_home = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else home / ".config"
    return [*paths, Path.cwd() / FILE_NAME, config_home / "openstack" / FILE_NAME, Path("/etc/openstack") / FILE_NAME]


@dataclass(frozen=True)
class Profile:
    """What our checks may know of a profile; no secret is kept here."""

    name: str
    path: Path
    auth_type: str
    auth_url: str | None
    region: str | None
    project: str | None
    missing: tuple[str, ...]  # auth fields the profile lacks for its auth type
    siblings: Mapping[str, tuple[str, str | None]]  # region -> (profile, auth_url) of the same file and identity

    def cli_environment(self, name: str | None = None) -> dict[str, str]:
        """The OS_* settings that make the CLI use this profile (or a sibling): a name and a path, no secret."""
        return {"OS_CLOUD": name or self.name, "OS_CLIENT_CONFIG_FILE": str(self.path)}

    def describe(self) -> str:
        where = f" at {self.auth_url}" if self.auth_url else ""
        return f"profile {self.name} ({self.auth_type}{where}, region {self.region or 'unset'}) from {self.path}"


def _load(path: Path) -> dict[str, Any]:
    import yaml  # the openstack CLI's own dependency; only read when a profile is used

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{where}") from None
    clouds = data.get("clouds") if isinstance(data, dict) else None
    if not isinstance(clouds, dict):
        raise ConfigError(f"{path} has no `clouds:` mapping")
    return clouds


def _secure(path: Path, name: str) -> dict[str, Any]:
    """secure.yaml beside clouds.yaml may hold a profile's secrets; only which keys it sets matters here."""
    secure = path.with_name("secure.yaml")
    if not secure.is_file():
        return {}
    try:
        entry = _load(secure).get(name)
    except ConfigError:
        return {}
    return entry if isinstance(entry, dict) else {}


_NEEDS = {
    "v3applicationcredential": (("application_credential_id", "application_credential_name"),
                                ("application_credential_secret",)),
    "v3password": (("username", "user_id"), ("password",)),
    "password": (("username", "user_id"), ("password",)),
}


def _missing(auth_type: str, auth: Mapping[str, Any]) -> tuple[str, ...]:
    needs = list(_NEEDS.get(auth_type, ()))
    if auth_type in ("v3password", "password"):
        needs.append(("project_name", "project_id"))
    return tuple(" or ".join(alternatives) for alternatives in needs if not any(auth.get(a) for a in alternatives))


def _region(entry: Mapping[str, Any]) -> str | None:
    region = entry.get("region_name")
    if region is None and isinstance(entry.get("regions"), list) and entry["regions"]:
        first = entry["regions"][0]
        region = first.get("name") if isinstance(first, dict) else first
    return str(region) if region else None


def _auth(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    auth = entry.get("auth")
    return auth if isinstance(auth, dict) else {}


def _identity(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    auth = _auth(entry)
    return (auth.get("username"), auth.get("user_id"), auth.get("project_name"), auth.get("project_id"))


def load_profile(name: str, environ: Mapping[str, str]) -> Profile:
    """The profile `name` from the first clouds.yaml on the search path that has it; a ConfigError otherwise."""
    seen: list[str] = []
    for path in search_path(environ):
        if not path.is_file():
            continue
        clouds = _load(path)
        seen += [str(n) for n in clouds]
        entry = clouds.get(name)
        if not isinstance(entry, dict):
            continue
        secure = _secure(path, name)
        auth = {**_auth(entry), **_auth(secure)}
        auth_type = str(entry.get("auth_type") or "password")
        region = _region(entry)
        # Chameleon's sites are separate clouds: a profile per site, the same user and project in each.
        siblings = {str(r): (str(other), _auth(e).get("auth_url")) for other, e in clouds.items()
                    if other != name and isinstance(e, dict) and (r := _region(e)) and r != region
                    and _identity(e) == _identity(entry)}
        return Profile(name=name, path=path.resolve(), auth_type=auth_type, auth_url=auth.get("auth_url"),
                       region=region, project=auth.get("project_name") or auth.get("project_id"),
                       missing=_missing(auth_type, auth), siblings=siblings)
    where = ", ".join(str(p) for p in search_path(environ))
    if not seen:
        raise ConfigError(f"OS_CLOUD={name}: no clouds.yaml found", hint=f"looked in {where}")
    raise ConfigError(f"OS_CLOUD={name}: no such profile in clouds.yaml", hint=f"known: {', '.join(sorted(set(seen)))}")


def require_complete(profile: Profile) -> None:
    if not profile.auth_url:
        raise ConfigError(f"profile {profile.name} in {profile.path} has no auth.auth_url")
    if profile.missing:
        raise ConfigError(f"profile {profile.name} in {profile.path} lacks {', '.join(profile.missing)} "
                          f"for auth_type {profile.auth_type}")
