"""What a run creates, written down before each create so a crash never loses track of a resource."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chameleon_provision.errors import OpenStackError
from chameleon_provision.state.store import StateStore

# What a service says when it turns a create down outright (capacity, balance, quota, a bad request).
_REFUSED = re.compile(r"(?i)not enough|would spend|quota exceeded|no more ip addresses|already exists|"
                      r"\(HTTP 4\d\d\)|HttpException: 4\d\d|malformed|invalid|bad request")


class Recorder:
    """Writes a row before each create and confirms it with the cloud id after."""

    def __init__(self, store: StateStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    @contextmanager
    def creating(self, kind: str, name: str, site: str, detail: dict[str, Any] | None = None
                 ) -> Iterator[Callable[..., None]]:
        row = self.store.intend(self.run_id, kind, name, site, detail)

        def confirm(cloud_id: str, status: str = "created", **more: Any) -> None:
            self.store.mark(row, status, cloud_id=cloud_id, detail=more or None)

        try:
            yield confirm
        except OpenStackError as exc:
            # Only a refusal of the request proves nothing was made. Anything else (a timeout, a crash,
            # or a create whose follow-up read failed after the resource was made) leaves the row in
            # 'creating', so teardown looks for the resource by its unique name before calling it gone.
            if exc.returncode is not None and _REFUSED.search(f"{exc.stderr}\n{exc.message}"):
                self.store.mark(row, "failed", detail={"error": exc.message})
            raise

    def note(self, kind: str, name: str, site: str, cloud_id: str, status: str, **detail: Any) -> None:
        """Record a resource the run uses but did not create (reused keypair or address)."""
        row = self.store.intend(self.run_id, kind, name, site, detail)
        self.store.mark(row, status, cloud_id=cloud_id)
