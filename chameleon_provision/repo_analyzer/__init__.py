"""Repository analysis: find the environment files, read hardware facts, decide the requirements.

Public API (the pipeline calls exactly these):
    open_repository(source, *, clone_timeout=120.0) -> context manager yielding RepoCheckout
    analyze(path) -> Analysis (requirements by rules, facts with evidence, excerpts for the AI)
    requirements_schema() -> JSON schema of the AI's answer
    requirements_from_answer(answer, analysis) -> Requirements (decided_by="ai"), or ValueError
"""

from __future__ import annotations

from .analysis import Analysis, analyze
from .answer import requirements_from_answer, requirements_schema
from .facts import Fact
from .source import RepoCheckout, classify_source, open_repository

__all__ = ["Analysis", "Fact", "RepoCheckout", "analyze", "classify_source", "open_repository",
           "requirements_from_answer", "requirements_schema"]
