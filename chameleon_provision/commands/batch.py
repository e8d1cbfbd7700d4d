"""The body of `provision batch`: read the rows, open one session, run them, report."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chameleon_provision.batch.inputs import read_rows
from chameleon_provision.pipeline.planner import Pins
from chameleon_provision.setup.build import SetupOptions


def batch_command(source: str, flags: Mapping[str, Any], *, plan_only: bool, jobs: int, pins: Pins,
                  keep_on_failure: bool, assume_yes: bool, confirm: Callable[[str], bool] | None,
                  resume_from: Path | None, verbosity: int, env_file: Path | None, twin: bool,
                  setup: SetupOptions) -> dict[str, Any]:
    """Bad input (the file, a row, an unknown site) stops the batch before any repository starts."""
    from chameleon_provision.batch.runner import Batch, BatchOptions
    from chameleon_provision.config import require_cloud_credentials
    from chameleon_provision.pipeline.startup import open_session

    rows = read_rows(source, sys.stdin.read() if source == "-" else None)
    options = BatchOptions(plan_only=plan_only, jobs=jobs, pins=pins, keep_on_failure=keep_on_failure,
                           assume_yes=assume_yes, confirm=confirm, resume_from=resume_from, setup=setup)
    with open_session(flags, verbosity=verbosity, env_file=env_file, twin=twin) as session:
        require_cloud_credentials(session.settings)
        batch = Batch(session, rows, options, sys.stdout)
        batch.check()
        for site in dict.fromkeys(row.site or session.settings.site for row in rows):
            session.warm(site)  # each site's one process starts while the first repositories are read
        return batch.run()
