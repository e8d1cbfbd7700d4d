"""Repository analysis: find the environment files, read hardware facts, decide the requirements.

Public API (the pipeline calls exactly these):
    classify_source(source) -> ('remote', url) | ('local', path), or InputError before git runs
    open_repository(source, *, clone_timeout=120.0) -> context manager yielding RepoCheckout
    analyze(path) -> Analysis (requirements by rules, facts with evidence, excerpts for the AI)

The AI's side of the requirements decision lives in `chameleon_provision.decisions.requirements`.
"""

from __future__ import annotations

from chameleon_provision.repo_analyzer.analysis import Analysis, analyze
from chameleon_provision.repo_analyzer.facts import Fact
from chameleon_provision.repo_analyzer.source import RepoCheckout, classify_source, open_repository

__all__ = ["Analysis", "Fact", "RepoCheckout", "analyze", "classify_source", "open_repository"]
