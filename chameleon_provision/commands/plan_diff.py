"""`provision plan-diff OLD.json NEW.json`: what changed between two `--plan-only --json` documents.

Compares what a reviewer cares about: where it runs (site, node type), on what (image), for how long and
at what cost, what the repository was found to need, and whether there was a plan at all (an error
document, such as no capacity, is a plan too: its outcome is that error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chameleon_provision.errors import InputError, ProvisionError

# (label, path into the document)
FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("outcome", ("_outcome",)),
    ("site", ("resource", "site")),
    ("node type", ("resource", "node_type")),
    ("node", ("resource", "resource_properties")),
    ("image", ("image", "name")),
    ("lease hours", ("lease", "hours")),
    ("SU per hour", ("cost", "su_per_hour")),
    ("SU total", ("cost", "su_total")),
    ("GPU", ("requirements", "gpu")),
    ("CPU cores", ("requirements", "cpu_cores")),
    ("RAM GB", ("requirements", "ram_gb")),
    ("architecture", ("requirements", "arch")),
    ("OS", ("requirements", "os")),
    ("CUDA", ("requirements", "cuda")),
    ("frameworks", ("requirements", "frameworks")),
)


class PlansDiffer(ProvisionError):
    """Exit 1, like diff(1): the two plans differ (the changes are on stdout and in the document)."""


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


def load_plan(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise InputError(f"{path} is not JSON; pass the output of `provision REPO --plan-only --json`") from None
    if not isinstance(doc, dict) or "schema_version" not in doc or not ("resource" in doc or "error" in doc):
        raise InputError(f"{path} is not a plan document (no schema_version and resource or error)")
    error = doc.get("error") or {}
    doc["_outcome"] = f"{error.get('type')} (exit {error.get('exit_code')})" if error else "feasible"
    return doc


def _get(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    if path == ("_outcome",):
        return doc["_outcome"]
    # a failed plan keeps the decisions it made before failing under `decisions`, with a plan's key names
    value: Any = doc.get("decisions") if "error" in doc and isinstance(doc.get("decisions"), dict) else doc
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return [Change(label, a, b) for label, path in FIELDS if (a := _get(old, path)) != (b := _get(new, path))]


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return "(none)" if value is None else str(value)


def plan_diff(old_path: Path, new_path: Path) -> tuple[list[Change], dict[str, Any]]:
    changes = diff(load_plan(old_path), load_plan(new_path))
    doc = {"schema_version": 1, "same": not changes,
           "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in changes]}
    return changes, doc


def render(changes: list[Change]) -> list[str]:
    if not changes:
        return ["the plans are the same"]
    return [f"{c.field}: {_shown(c.old)} -> {_shown(c.new)}" for c in changes]
