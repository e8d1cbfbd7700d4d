"""Comments removed before any parser reads a file, with every line kept in place for evidence.

A commented-out `// "runArgs": ["--gpus=all"]` or `# - cudatoolkit=11.8` is what the project chose
*not* to do, so it is no evidence. Each file kind has one comment syntax:

- `#` to the end of the line (YAML, TOML, requirements, Dockerfiles, shell, Make, CMake, R, Python):
  only at the start of a line or after whitespace, and never inside quotes, so `pkg#egg=name`, `$#`
  and `"a # b"` survive. Batch directives (`#SBATCH`, `#PBS`, `#BSUB`) are live; `##SBATCH` is not.
- `//` and `/* */` in JSON with comments (devcontainer.json, VS Code settings) and in C/C++/OpenCL
  sources, outside strings (a C `#include` or `#pragma` is code, not a comment).
- `<!-- -->` in Markdown, possibly over several lines and paragraphs.

Removed text becomes nothing on its line; newlines stay, so line numbers do not move.
"""

from __future__ import annotations

import re

HASH_KINDS = frozenset({"requirements", "conda", "conda_lock", "pyproject", "pipfile", "runtime", "apt",
                        "install_r", "julia", "nix", "postbuild", "shell", "slurm", "config_yaml", "dockerfile",
                        "compose", "make", "cmake", "setup_cfg", "python", "setup_py", "ci", "fio"})
JSONC_KINDS = frozenset({"devcontainer", "native_source"})
_DIRECTIVE = re.compile(r"^\s*#(SBATCH|PBS|BSUB)\b")
_OPENS_QUOTE = frozenset(" \t=:[(,{")
_HASH = re.compile(r"(?:^|(?<=[ \t]))#")
_HTML_COMMENT = re.compile(r"<!--.*?(-->|\Z)", re.S)


def strip_comments(text: str, kind: str, name: str = "") -> str:
    """`text` without the comments of its kind; the number of lines is unchanged."""
    if kind in JSONC_KINDS or (kind == "launch_config" and name.endswith(".json")):
        return _strip_jsonc(text) if "/" in text else text
    if kind in HASH_KINDS or kind == "launch_config":
        if "#" not in text:
            return text
        return "\n".join(_strip_hash(line) if "#" in line else line for line in text.split("\n"))
    if kind == "readme" and (name.lower().endswith((".md", ".markdown")) or "." not in name):
        return _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return text


def _strip_hash(line: str) -> str:
    if _DIRECTIVE.match(line):
        return line
    first = _HASH.search(line)
    if first is None:
        return line
    if not any(q in line[:first.start()] for q in "'\""):  # the common case: no string before the comment
        return line[:first.start()].rstrip()
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or line[i - 1] in _OPENS_QUOTE or _prefixed(line, i)):
            quote = ch  # a quote only opens where a value starts: "it's # a comment" has no string
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line


def _prefixed(line: str, i: int) -> bool:
    """f"...", rb'...': a string prefix right after a place where a value starts."""
    j = i
    while j > 0 and line[j - 1] in "fFrRbBuU" and i - j < 2:
        j -= 1
    return j < i and (j == 0 or line[j - 1] in _OPENS_QUOTE)


_JSONC_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|//[^\n]*|/\*.*?(?:\*/|\Z)', re.S)


def _strip_jsonc(text: str) -> str:
    """Strings are kept as they are (a URL's // is no comment); comments become their newlines only."""
    return _JSONC_TOKEN.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "\n" * m.group(0).count("\n"),
                            text)
