"""`provision status`: each run as the cloud sees it now, its drift from what was recorded, and what to do next.

The state database says what a run created; only the cloud can say whether it is still there. For every
site with live runs, three list calls (leases, servers, floating IPs) are made once and shared by all its
runs. A run recorded against another cloud (auth URL or project) is shown as such and not queried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chameleon_provision.cloud.operations import Cloud, FloatingIP, Server
from chameleon_provision.errors import ConfigError, ProvisionError
from chameleon_provision.state.store import ResourceRecord, RunRecord, StateStore

_LEASE_ENDED = ("TERMINATED", "TERMINATING", "DELETING", "ERROR")
_FINISHED = ("destroyed", "cleaned")


@dataclass(frozen=True)
class SiteView:
    """What one site holds right now, read once for every run at that site."""

    leases: Mapping[str, Mapping[str, Any]]
    servers: Mapping[str, Server]
    addresses: Mapping[str, FloatingIP]

    @classmethod
    def read(cls, cloud: Cloud) -> SiteView:
        return cls({str(x.get("id")): x for x in cloud.leases()}, {s.id: s for s in cloud.servers()},
                   {f.id: f for f in cloud.floating_ips()})


@dataclass
class RunView:
    run: RunRecord
    resources: list[ResourceRecord]
    checked: bool = False  # False: --local, another cloud, or the site could not be read
    cloud: dict[str, Any] = field(default_factory=dict)  # lease/server/address as the cloud shows them
    drift: list[str] = field(default_factory=list)
    next_step: str = ""
    cost: dict[str, float] | None = None


def other_cloud(run: RunRecord, credentials: Mapping[str, str]) -> str | None:
    """Why this run is not in the cloud the credentials point at, or None when it is."""
    if run.auth_url and credentials.get("OS_AUTH_URL") and run.auth_url != credentials["OS_AUTH_URL"]:
        return f"run {run.run_id} belongs to {run.auth_url}, the credentials point at {credentials['OS_AUTH_URL']}"
    return None


def elsewhere(run: RunRecord, credentials_for: Any, project_of: Any) -> str | None:
    """Why the credentials do not reach the cloud and project `run` was made in, or None when they do."""
    site = run.region or run.site
    problem = other_cloud(run, credentials_for(site))
    if problem is None and run.project_id:
        project = project_of(site)
        if project and project != run.project_id:
            problem = f"run {run.run_id} belongs to project {run.project_id}, the credentials are for {project}"
    return problem


def project_of(session: Any, site: str) -> str:
    """The project the session's credentials are scoped to at `site` (one `token issue`)."""
    return str(session.cloud(site).token_issue().get("project_id") or "")


def check_same_cloud(run: RunRecord, session: Any) -> None:
    """ConfigError unless the session's credentials reach the cloud and project the run was made in."""
    problem = elsewhere(run, session.settings.credentials_for, lambda site: project_of(session, site))
    if problem:
        raise ConfigError(problem, hint="point the environment at that cloud and project; nothing was deleted")


def observe(store: StateStore, runs: Sequence[RunRecord], cloud_for: Any, credentials_for: Any,
            project_for: Any) -> list[RunView]:
    """Views of `runs`; `cloud_for(site)`, `credentials_for(site)` and `project_for(site)` reach each site."""
    views = [RunView(r, store.resources(r.run_id)) for r in runs]
    sites: dict[str, SiteView | str] = {}
    for view in views:
        run = view.run
        if run.status in _FINISHED or not any(r.live and r.kind != "keypair" for r in view.resources):
            continue
        view.cost = _cost_so_far(store, run)
        site = run.region or run.site
        problem = elsewhere(run, credentials_for, project_for)
        if problem:
            view.drift.append(problem)
            view.next_step = "point the environment at that cloud (source its openrc) to see or destroy it"
            continue
        if site not in sites:
            try:
                sites[site] = SiteView.read(cloud_for(site))
            except ProvisionError as exc:
                sites[site] = exc.message
        seen = sites[site]
        if isinstance(seen, str):
            view.drift.append(f"could not read {site}: {seen}")
            continue
        _compare(view, seen)
    return views


def _compare(view: RunView, site: SiteView) -> None:
    view.checked = True
    run_id = view.run.run_id
    for r in view.resources:
        if not r.live and r.status != "with_lease":
            continue
        if r.kind == "lease":
            lease = site.leases.get(r.cloud_id or "")
            status = str(lease.get("status", "")) if lease else "gone"
            view.cloud["lease"] = status
            if status == "gone":
                view.drift.append("the lease no longer exists (deleted outside this tool, or long over)")
            elif status in _LEASE_ENDED:
                view.drift.append(f"the lease is {status}: the node is no longer yours")
        elif r.kind == "server":
            server = site.servers.get(r.cloud_id or "")
            view.cloud["server"] = server.status if server else "gone"
            if server is None:
                view.drift.append("the server was deleted outside this tool")
            elif server.status == "ERROR":
                view.drift.append("the server is in ERROR")
        elif r.kind == "floating_ip":
            fip = site.addresses.get(r.cloud_id or "")
            view.cloud["address"] = (fip.address + (" attached" if fip.port_id else " not attached")) if fip else "gone"
            if fip is None:
                view.drift.append(f"the address {r.detail.get('address', '')} was released".replace("  ", " "))
            elif not fip.port_id and view.run.status == "ready":
                view.drift.append(f"the address {fip.address} is no longer attached to the server")
    if view.drift:
        view.next_step = f"provision destroy {run_id}  (removes what is left)"
    elif view.run.status in ("started", "interrupted", "failed", "destroy-incomplete"):
        view.next_step = f"provision destroy {run_id}"


def _cost_so_far(store: StateStore, run: RunRecord) -> dict[str, float] | None:
    plan = store.plan(run.run_id) or {}
    cost = plan.get("cost")
    if not cost or run.mode != "provision":
        return None
    started = datetime.strptime(run.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    hours = min(float(cost["hours"]), (datetime.now(UTC) - started).total_seconds() / 3600)
    return {"su_per_hour": float(cost["su_per_hour"]), "su_so_far": round(hours * float(cost["su_per_hour"]), 2),
            "su_total": float(cost["su_total"])}
