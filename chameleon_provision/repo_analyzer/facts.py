"""Facts: one signal found in one place of a repository, with the quoted line it rests on.

Parsers only report what a file says; weighing facts against each other is rules.py's job. Each
fact carries a *scope*: which workload it describes. READMEs often document a small main workload
next to a paper-scale recipe ("8x A100 to reproduce") and a reduced mode ("QLoRA on one 24 GB
GPU"); the rules size the node for the main workload and keep the rest as context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from chameleon_provision.models import Evidence
from chameleon_provision.repo_analyzer.signals import confidence_of

Scope = Literal["main", "full", "reduced", "aux", "ignored"]

MAX_QUOTE = 200

# Path parts that mark a file as describing the paper-scale recipe or as auxiliary (tests, CI).
_FULL_PATH = re.compile(r"(^|[/_.-])(reproduc\w*|paper|pretrain\w*|multi[_-]?node|cluster)([/_.-]|$)", re.I)
# Side material (appendix, bonus chapters, extras, examples, docs) is not the main workload either.
_AUX_PATH = re.compile(r"(^|/)(tests?|testing|ci|\.github|\.circleci|benchmarks?|docs?)/|(^|/)ci[-_][^/]*$|"
                       r"(^|/)([\w.-]*[_-])?(appendix|appendices|bonus|extras?|optional|examples?)([_-][\w.-]*)?/",
                       re.I)


@dataclass(frozen=True)
class Fact:
    """A signal (see signals.CATALOG), its parsed value and where it was read."""

    signal: str
    value: Any
    evidence: Evidence
    scope: Scope = "main"

    @property
    def confidence(self) -> float:
        return self.evidence.confidence

    def as_dict(self) -> dict[str, Any]:
        ev = self.evidence
        return {"signal": self.signal, "value": self.value, "scope": self.scope, "file": ev.file,
                "line": ev.line, "text": ev.text, "confidence": ev.confidence}


def quote(text: str) -> str:
    """One line of evidence: whitespace collapsed, bounded length."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_QUOTE else line[: MAX_QUOTE - 1] + "…"


def path_scope(rel: str, side: tuple[str, ...] = ()) -> Scope:
    """`side`: folders the main README calls optional ("the Docker setup in setup/ is optional")."""
    if _AUX_PATH.search(rel) or rel.startswith(side):
        return "aux"
    if _FULL_PATH.search(rel):
        return "full"
    return "main"


@dataclass
class FactSink:
    """Collects facts for one file; applies the file's confidence factor and scope."""

    file: str
    factor: float = 1.0
    scope: Scope = "main"
    facts: list[Fact] = field(default_factory=list)

    def add(self, signal: str, value: Any, line: int, text: str, *, confidence: float | None = None,
            scope: Scope | None = None) -> Fact:
        base = confidence_of(signal) if confidence is None else confidence
        fact = Fact(signal=signal, value=value, scope=scope or self.scope,
                    evidence=Evidence(file=self.file, line=line, text=quote(text), signal=signal,
                                      confidence=round(max(0.0, min(1.0, base * self.factor)), 3)))
        self.facts.append(fact)
        return fact


def line_of(text: str, needle: str, default: int = 1) -> int:
    """1-based line of the first occurrence of needle (case-insensitive), for parsers without positions."""
    pos = text.lower().find(needle.lower())
    return default if pos < 0 else text.count("\n", 0, pos) + 1


def line_text(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""
