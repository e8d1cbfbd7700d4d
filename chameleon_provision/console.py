"""Where output goes: results to stdout, progress and logs to stderr, built once in the entrypoint."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from rich.console import Console
from rich.logging import RichHandler


@dataclass
class Streams:
    out: Console = field(default_factory=lambda: Console(file=sys.stdout, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(file=sys.stderr, soft_wrap=True))
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose (-v), 2 debug (-vv)

    def progress(self, message: str) -> None:
        """One progress line on stderr (suppressed by -q)."""
        if self.verbosity >= 0:
            self.err.print(message, highlight=False, markup=False)  # paths and cloud errors may hold [brackets]


def setup_logging(verbosity: int, err: Console) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = RichHandler(console=err, show_time=False, show_path=False, markup=False)
    root = logging.getLogger("chameleon_provision")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
