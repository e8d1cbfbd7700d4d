"""READMEs and install docs: Markdown/RST structure, then hardware statements sentence by sentence.

Structure matters more than words here. Sections such as News, Changelog, Acknowledgements,
Sponsors, Citation and Resources are skipped whole (they mention GPUs that were donated or models
that were released, not what this code needs); badge and image lines are skipped; each sentence
gets a scope from its own words first, then from the nearest heading that has one ("Reproducing
GPT-2" marks the paper-scale recipe, "QLoRA training" a reduced mode). Code blocks are read as
commands: install lines, launch lines, device flags and model ids.
"""

from __future__ import annotations

import re

from chameleon_provision.repo_analyzer.facts import FactSink, Scope
from chameleon_provision.repo_analyzer.packages import install_command
from chameleon_provision.repo_analyzer.parsers_launch import launch_line
from chameleon_provision.repo_analyzer.scanner import RepoFile
from chameleon_provision.repo_analyzer.statements import (
    AMD,
    GPU_WORD,
    NVIDIA,
    Sentence,
    document_precision,
    extract,
)

SKIP_HEADING = re.compile(r"(?i)^\W*(sponsors?|supporters?|backers|funding|acknowledg\w*|thanks|credits|citation|"
                          r"citing|cite|bibtex|references?|licen[cs]e|news|changelog|change\s*log|changes|release\s+"
                          r"notes|updates?|what'?s\s+new|history|contributors?|contributing|related(?:\s+\w+)?|"
                          r"resources|see\s+also|community|contact|star\s+history|authors?|todos?|roadmap)\b")
FULL = re.compile(r"(?i)\b(reproduc\w*|replicat\w*|paper|full[- ](?:model|fine-?tun\w*|training|scale|recipe|run|"
                  r"parameter\w*)|pre-?train\w*|from\s+scratch|at\s+scale|large[- ]scale|multi-?node|cluster|slurm|"
                  r"(?:were|was|been)\s+trained|multi-?GPU\s+(?:\w+\s+)?(?:training|DDP)|distributed\s+data\s+parallel)\b")
REDUCED = re.compile(r"(?i)\b(qlora|4-?bit|low[- ]memory|consumer|smaller|toy|tiny|debug\w*|macbook|laptop|cheap|"
                     r"if\s+you\s+(?:only\s+)?have|limited\s+(?:gpu\s+)?memory|reduced|minimal\s+example|cpu)\b")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_BADGE = re.compile(r"^\s*(\[!\[|!\[|<img|<p\b|<a\s|<div|<h\d|<picture|</)", re.I)
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\[(`\"'])")
_VRAM_HEADER = re.compile(r"(?i)vram|gpu\s*mem|memory")
_GB = re.compile(r"(\d+(?:\.\d+)?)\s*(?:GB|GiB|G)\b", re.I)
_TITLE_GPU = re.compile(r"\b(CUDA|HIP|ROCm|OpenCL|GPU)\b")
MAX_TRAPS = 6


def clean(text: str) -> str:
    """Markdown inline formatting removed; link targets dropped (URLs are not statements)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return text.replace("**", "").replace("__", "").replace("`", "")


# sections of side material: bonus chapters, appendices, extras
SIDE = re.compile(r"(?i)\b(bonus|appendix|appendices|extras|optional\s+(?:material|setup|sections?|chapters?))\b")
# a list item that is only a link: a table of contents naming another part of the repository
_TOC_ITEM = re.compile(r"^\s*(?:\*\*)?\[[^\]]*\]\((?!https?:)[^)]*\)(?:\*\*)?\s*[.:]?\s*$")


def scope_for(text: str, headings: list[tuple[int, str]], base: Scope) -> Scope:
    if FULL.search(text):
        return "full"
    if REDUCED.search(text):
        return "reduced"
    for _level, heading in reversed(headings):
        if SIDE.search(heading):
            return "aux"
        if FULL.search(heading):
            return "full"
        if REDUCED.search(heading):
            return "reduced"
    return base


class _Reader:
    def __init__(self, f: RepoFile, sink: FactSink) -> None:
        self.f, self.sink, self.base = f, sink, sink.scope
        self.headings: list[tuple[int, str]] = []
        self.skip_level: int | None = None
        self.para: list[tuple[int, str]] = []
        self.table: tuple[int, list[tuple[float, int, str]]] | None = None  # (vram column, rows)
        self.traps = 0
        self.line = 0
        self.underline_chars: list[str] = []
        self.seen_heading = False
        self.precision = document_precision(f.text)

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if self.skip_level is not None and level <= self.skip_level:
            self.skip_level = None
        # The document's title names the project ("# Big LLM pretraining"); it is not a section of it, so it
        # scopes nothing: a requirement sentence under it describes the main workload.
        is_title = level == 1 and not self.seen_heading
        self.seen_heading = True
        self.headings = [h for h in self.headings if h[0] < level] + [(level, "" if is_title else clean(text))]
        if self.skip_level is None and SKIP_HEADING.search(clean(text)):
            self.skip_level = level
        title = level == 1 and len(self.headings) == 1 and self.base == "main" and "/" not in self.f.rel
        if title and (m := _TITLE_GPU.search(text)):
            vendor = {"CUDA": "nvidia", "HIP": "amd", "ROCm": "amd"}.get(m.group(1), "any")
            self.sink.add("readme.gpu_programming", vendor, self.line, text)

    def trap(self, line: int, text: str) -> None:
        if self.traps < MAX_TRAPS and (GPU_WORD.search(text) or NVIDIA.search(text) or AMD.search(text)):
            self.traps += 1
            self.sink.add("ignored.trap", "skipped section or badge", line, text, scope="ignored")

    def flush(self) -> None:
        if self.para:
            start = self.para[0][0]
            joined = "\n".join(t for _, t in self.para)
            pos = 0
            for piece in _SENTENCE_END.split(joined):
                offset = joined.find(piece, pos)
                pos = offset + len(piece)
                line = start + joined.count("\n", 0, max(offset, 0))
                self.sentence(line, piece.replace("\n", " "))
            self.para = []
        if self.table and self.table[1]:
            value, line, text = max(self.table[1])
            self.sink.add("readme.vram_table", value, line, text, scope=scope_for("", self.headings, self.base))
        self.table = None

    def sentence(self, line: int, raw: str, in_code: bool = False) -> None:
        text = clean(raw).strip()
        if not text:
            return
        scope = scope_for(text, self.headings, self.base)
        previous, self.sink.scope = self.sink.scope, scope
        try:
            install_command(self.sink, raw if in_code else text, line)
            launch_line(self.sink, text, line, raw)
            extract(Sentence(text, line, scope, in_code, self.precision), self.sink)
        finally:
            self.sink.scope = previous

    def table_row(self, no: int, raw: str, next_line: str) -> None:
        cells = [c.strip() for c in raw.strip().strip("|").split("|")]
        if _TABLE_SEP.match(next_line):
            self.flush()
            column = next((i for i, c in enumerate(cells) if _VRAM_HEADER.search(c)), -1)
            self.table = (column, [])
            return
        if _TABLE_SEP.match(raw):
            return
        if self.table and 0 <= self.table[0] < len(cells) and (m := _GB.search(cells[self.table[0]])):
            self.table[1].append((float(m.group(1)), no, raw.strip()))
        self.sentence(no, " ".join(cells))

    def read(self) -> None:
        lines = self.f.text.splitlines()
        fence: str | None = None
        command, command_line = "", 0
        i = 0
        while i < len(lines):
            raw, no = lines[i], i + 1
            self.line = no
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            i += 1
            if fence:
                if raw.strip().startswith(fence):
                    fence = None
                elif self.skip_level is None:
                    stripped = raw.strip()
                    if stripped.startswith("#") and not command:
                        self.sentence(no, stripped.lstrip("# "))
                    elif stripped:
                        command, command_line = command + stripped.rstrip("\\") + " ", command_line or no
                        if not stripped.endswith("\\"):
                            self.sentence(command_line, command.strip(), in_code=True)
                            command, command_line = "", 0
                continue
            if m := _FENCE.match(raw):
                self.flush()
                fence = m.group(1)
                continue
            if m := _ATX.match(raw):
                self.heading(len(m.group(1)), m.group(2))
                continue
            if (raw.strip() and _UNDERLINE.match(nxt) and not _FENCE.match(nxt) and not _LIST.match(raw)
                    and not raw.lstrip().startswith("|")):
                char = nxt.strip()[0]
                if char not in self.underline_chars:
                    self.underline_chars.append(char)
                self.heading(self.underline_chars.index(char) + 1, raw.strip())
                i += 1
                continue
            if self.skip_level is not None:
                self.trap(no, raw)
                continue
            if not raw.strip():
                self.flush()
                continue
            if _BADGE.match(raw):
                self.flush()
                self.trap(no, raw)
                continue
            if raw.lstrip().startswith("|"):
                self.table_row(no, raw, nxt)
                continue
            if raw.startswith(("    ", "\t")) and not self.para and not _LIST.match(raw):
                self.sentence(no, raw.strip(), in_code=True)  # indented code block
                continue
            if _LIST.match(raw):
                self.flush()
                raw = _LIST.sub("", raw, count=1)
                if _TOC_ITEM.match(raw):  # names a chapter or folder; what it needs is said there
                    continue
            self.para.append((no, raw.strip()))
        self.flush()


def parse_readme(f: RepoFile, sink: FactSink) -> None:
    _Reader(f, sink).read()
