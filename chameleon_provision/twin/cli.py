"""`provision twin ...` commands (being built)."""

from __future__ import annotations

import click


@click.group(name="twin")
def twin_group() -> None:
    """Run the local Chameleon twin (CHI@UC and CHI@TACC) for demos and tests."""
