"""Blazar's host query language and host picking, as Chameleon's fork implements them.

`resource_properties` / `hypervisor_properties` are JSON strings: `["==", "$node_type", "x"]`,
or `["and", [...], [...], ...]`. Operators: == = != < > <= >=; `=` means `==`. Every element must
be a JSON string (Chameleon answers "Malformed requirements ..." for `48` instead of `"48"`), and
there is no "or" (upstream still has it as a TODO), so it is malformed too.

Extra capabilities are compared **as strings**, so `[">=", "$architecture.smt_size", "48"]` finds
"64" and "96" but not "160". A host lacking the property never matches; a property no host has is
a database "not found" error (500). Properties that are ComputeHost columns (vcpus, memory_mb,
hypervisor_hostname, ...) are SQL comparisons, numeric for the integer columns.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chameleon_twin.blazar_errors import BlazarError

Query = tuple[str, str, str]  # (property without "$", operator, value)

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}
# ComputeHost table columns; everything else is an extra capability.
_INT_COLUMNS = {"vcpus", "memory_mb", "local_gb", "hypervisor_version"}
_BOOL_COLUMNS = {"reservable", "disabled"}
COLUMNS = _INT_COLUMNS | _BOOL_COLUMNS | {
    "id", "cpu_info", "hypervisor_type", "hypervisor_hostname", "service_name", "status", "availability_zone",
    "trust_id",
}


def _malformed(requirements: Any) -> BlazarError:
    return BlazarError(400, f"Malformed requirements {requirements}")


def parse_requirements(requirements: Any) -> list[Query]:
    """A requirements string or list -> flat list of queries; raises "Malformed requirements"."""
    if isinstance(requirements, str):
        if requirements == "":
            return []
        try:
            requirements = json.loads(requirements)
        except ValueError:
            raise _malformed(requirements) from None
    if (isinstance(requirements, list) and len(requirements) == 3
            and all(isinstance(x, str) for x in requirements)
            and requirements[0] in ("=", *OPERATORS)
            and len(requirements[1]) > 1 and requirements[1].startswith("$") and requirements[2]):
        op = "==" if requirements[0] == "=" else requirements[0]
        return [(requirements[1][1:], op, requirements[2])]
    if isinstance(requirements, list) and len(requirements) > 1 and requirements[0] == "and":
        # Each sub-requirement raises with its own text, so the error names the faulty part.
        return [query for sub in requirements[1:] for query in parse_requirements(sub)]
    if requirements == []:
        return []
    raise _malformed(requirements)


def _column_value(host: Mapping[str, Any], key: str, value: str) -> tuple[Any, Any]:
    have = host.get(key)
    if key in _BOOL_COLUMNS:
        want: Any = value.lower() in ("1", "true")
        return bool(have), want
    if key in _INT_COLUMNS:
        try:
            return int(have or 0), int(value)
        except ValueError:
            return str(have), value
    return "" if have is None else str(have), value


def matches(host: Mapping[str, Any], queries: Iterable[Query]) -> bool:
    for key, op, value in queries:
        if key in COLUMNS:
            have, want = _column_value(host, key, value)
        else:
            if key not in host:
                return False
            have, want = str(host[key]), value
        try:
            if not OPERATORS[op](have, want):
                return False
        except TypeError:
            return False
    return True


def check_known(hosts: Iterable[Mapping[str, Any]], queries: Iterable[Query]) -> None:
    """A property that no host has is Blazar's BlazarDBNotFound (HTTP 500)."""
    known: set[str] = set()
    for host in hosts:
        known.update(host)
    for key, _, _ in queries:
        if key not in COLUMNS and key not in known:
            raise BlazarError(500, f"{key} ComputeHostExtraCapability was not found")


def pick_hosts(candidates: Sequence[Mapping[str, Any]], never_allocated: set[str], free: set[str],
               count_min: int, count_max: int) -> list[str]:
    """Blazar's _matching_hosts: prefer hosts with no allocation at all, else any free ones.

    `candidates` already match the query and are reservable; `free` holds the ids of those free
    over the whole lease window, `never_allocated` those with no live allocation at all.
    Returns [] when fewer than `count_min` qualify.
    """
    fresh = [h["id"] for h in candidates if h["id"] in never_allocated]
    if len(fresh) >= count_min:
        return fresh[:count_max]
    usable = [h["id"] for h in candidates if h["id"] in free and h["id"] not in never_allocated] + fresh
    return usable[:count_max] if len(usable) >= count_min else []
