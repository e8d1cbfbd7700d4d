"""`provision doctor`: is this environment ready (CLI, credentials, endpoints, AI, state)?"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from chameleon_provision.cloud.openstack_cli import find_openstack
from chameleon_provision.config import require_cloud_credentials
from chameleon_provision.errors import ProvisionError
from chameleon_provision.pipeline.session import Session


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(session: Session) -> list[Check]:
    s = session.settings
    checks: list[Check] = []

    def attempt(name: str, fn: Callable[[], str]) -> bool:
        try:
            checks.append(Check(name, True, fn()))
            return True
        except ProvisionError as exc:
            checks.append(Check(name, False, exc.message + (f" ({exc.hint})" if exc.hint else "")))
            return False

    def cli_version() -> str:
        exe = find_openstack()
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, check=False)
        return f"{exe}: {(out.stdout or out.stderr).strip().splitlines()[-1]}"

    def creds() -> str:
        require_cloud_credentials(s)
        if s.profile is not None:  # names, endpoint and region only: the secrets stay in the file
            return s.profile.describe()
        auth = s.credentials.get("OS_AUTH_TYPE", "password")
        return f"{auth} at {s.credentials.get('OS_AUTH_URL', 'OS_CLOUD=' + s.credentials.get('OS_CLOUD', ''))}"

    def token() -> str:
        data = session.cloud(s.site).token_issue()
        return f"token for project {data.get('project_id')} expires {data.get('expires')}"

    def discovery() -> str:
        sites = [i.get("name") for i in session.discovery.sites()]
        return f"{s.api_url}: {', '.join(map(str, sites))}"

    def ai() -> str:
        if s.ai_mode == "off":
            return "off (rules decide)"
        if not s.openai_api_key:
            if s.ai_mode == "on":
                raise ProvisionError("PROVISION_AI=on but no OPENAI_API_KEY is set")
            return "no OPENAI_API_KEY: rules decide (set one to use the AI)"
        return f"model {s.model} at {s.openai_base_url or 'api.openai.com'}"

    def state() -> str:
        session.store.runs()
        return str(session.store.path)

    attempt("openstack CLI", cli_version)
    if attempt("credentials", creds):
        attempt(f"cloud ({s.site})", token)
    attempt("resource discovery API", discovery)
    attempt("AI", ai)
    attempt("state", state)
    return checks
