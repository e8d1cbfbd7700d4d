"""Looking at a run again with the clouds.yaml profile it was made with (`status`, `destroy`, `resume`).

A run records the profile's name (never its secrets). Later commands use that profile for the run
unless `--os-cloud` names another; a run made from an openrc is looked at with whatever the
environment holds now, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chameleon_provision.commands.status import RunView, observe, project_of
from chameleon_provision.errors import ProvisionError
from chameleon_provision.pipeline.session import Session
from chameleon_provision.pipeline.startup import open_session
from chameleon_provision.profiles import chosen
from chameleon_provision.state.store import RunRecord


def wanted_profile(run: RunRecord) -> str | None:
    return chosen.get() or run.os_cloud or None


def _uses(session: Session, run: RunRecord, profile: str | None) -> bool:
    if profile is None:
        return True
    try:
        return session.settings.credentials_for(run.region or run.site).get("OS_CLOUD") == profile
    except ProvisionError:
        return False


@contextmanager
def open_run_session(run_id: str, *, verbosity: int, env_file: Path | None) -> Iterator[tuple[Session, RunRecord]]:
    """A session for RUN_ID's cloud: the one of its recorded profile when it has one (StateError if unknown)."""
    with open_session({}, verbosity=verbosity, env_file=env_file) as first:
        run = first.store.run(run_id)
        profile = wanted_profile(run)
        if _uses(first, run, profile):
            yield first, run
            return
    with open_session({"os_cloud": profile}, verbosity=verbosity, env_file=env_file) as session:
        yield session, session.store.run(run_id)


def _observe(session: Session, runs: list[RunRecord]) -> list[RunView]:
    store = session.store
    for site in {r.region or r.site for r in runs
                 if any(x.kind != "keypair" for x in store.live_resources(r.run_id))}:
        session.warm(site)  # every site with something live gets its `openstack` process now, side by side
    return observe(store, runs, session.cloud, session.settings.credentials_for,
                   lambda site: project_of(session, site))


def observe_runs(session: Session, runs: list[RunRecord], *, local: bool, verbosity: int,
                 env_file: Path | None) -> list[RunView]:
    """Views of `runs`, each read through the profile it was made with (grouped: one session per profile)."""
    store = session.store
    if local:
        return [RunView(r, store.resources(r.run_id)) for r in runs]
    groups: dict[str | None, list[RunRecord]] = {}
    for run in runs:
        profile = wanted_profile(run)
        groups.setdefault(None if _uses(session, run, profile) else profile, []).append(run)
    views: dict[str, RunView] = {}
    for profile, group in groups.items():
        if profile is None:
            found = _observe(session, group) if session.settings.credentials else \
                [RunView(r, store.resources(r.run_id)) for r in group]
        else:
            try:
                with open_session({"os_cloud": profile}, verbosity=verbosity, env_file=env_file) as other:
                    found = _observe(other, group)
            except ProvisionError as exc:  # that profile is gone or broken: say so on each of its runs
                found = [RunView(r, store.resources(r.run_id), drift=[f"profile {profile}: {exc.message}"])
                         for r in group]
        views.update((v.run.run_id, v) for v in found)
    return [views[r.run_id] for r in runs]
