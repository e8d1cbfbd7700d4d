"""Special-hardware signals: FPGA toolchains, ARM-only code, raw NVMe devices, RDMA, persistent memory, GPU floors.

Every file the scanner reads passes through `parse` (after its own parser); C/C++/OpenCL sources, fio
job files and CI workflows are read for this module alone. Each pattern quotes the line it matched;
commented-out lines never count (`code_lines`: the shared comment stripper, plus C's `#if 0`).
hardware_needs turns the facts into the Requirements' hardware fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from chameleon_provision.repo_analyzer.comments import strip_comments
from chameleon_provision.repo_analyzer.facts import FactSink
from chameleon_provision.repo_analyzer.scanner import RepoFile
from chameleon_provision.repo_analyzer.signals import confidence_of

OWN_KINDS = frozenset({"native_source", "fio", "ci"})  # kinds the scanner reads only for this module
_C_KINDS = frozenset({"native_source"})
_PROSE_KINDS = frozenset({"readme"})
# Files that build, install or run things; lock files, manifests and notebooks carry none of these signals.
_CODE_KINDS = frozenset({"native_source", "fio", "make", "cmake", "shell", "slurm", "postbuild", "dockerfile", "apt",
                         "setup_py", "python", "compose", "launch_config"})

# (signal, pattern, value); the value None means "vendor/device from the match" (see _value)
_CODE: tuple[tuple[str, re.Pattern[str], Any], ...] = tuple((s, re.compile(p), v) for s, p, v in (
    ("fpga.vitis", r"(?<![\w+])v\+\+(?=\s|$)|\bXCL_EMULATION_MODE\b", "xilinx"),
    ("fpga.xclbin", r"\.xclbin\b", "xilinx"),
    ("fpga.xrt", r"#\s*include\s*[<\"](?:xrt/|experimental/xrt_|xcl2\.hpp|CL/cl_ext_xilinx\.h)|\bxrt::(?:device|kernel)"
                 r"|\bXILINX_XRT\b|\bpynq\.Overlay\b", "xilinx"),
    ("fpga.hls", r"#\s*pragma\s+HLS\b|\b(?:vivado_hls|vitis_hls)\b", "xilinx"),
    ("fpga.intel", r"(?<![\w-])aoc\s+.*-board=|\.aocx\b|-fintelfpga\b|-Xs(?:target|board)="
                   r"|sycl/ext/intel/fpga_extensions\.hpp"
                   r"|\bfpga_selector(?:_v)?\b|\bINTELFPGAOCLSDKROOT\b", "intel"),
    ("arch.arm_simd", r"#\s*include\s*<(arm_neon|arm_sve)\.h>", "aarch64"),
    ("source.x86_simd", r"#\s*include\s*<(?:imm|xmm|emm|pmm|tmm|smm|nmm|x86|avx\w*)intrin\.h>", "x86_64"),
    ("storage.spdk", r"#\s*include\s*[<\"]spdk/|-lspdk\w*|\bspdk_nvme_\w+", 1),
    ("storage.spdk_build", r"\bSPDK_(?:DIR|ROOT)\b|github\.com/spdk/spdk|spdk/scripts/setup\.sh"
                           r"|pkg_check_modules\([^)]*spdk", 1),
    ("storage.nvme_passthrough", r"/dev/ng\d+n\d+|\bnvme_uring_cmd\b|\bIORING_OP_URING_CMD\b|linux/nvme_ioctl\.h"
                                 r"|\bNVME_IOCTL_\w+|#\s*include\s*[<\"]libxnvme", 1),
    ("storage.raw_nvme", r"/dev/nvme\d+n\d+(?!p)", None),
    ("rdma.verbs", r"#\s*include\s*[<\"](?:infiniband/verbs\.h|rdma/rdma_cma\.h|rdma/rdma_verbs\.h)"
                   r"|-l(?:ibverbs|rdmacm)\b"
                   r"|\b(?:find_library|pkg_check_modules|target_link_libraries)\([^)]*\b(?:lib)?(?:ibverbs|rdmacm)\b"
                   r"|^\s*(?:from|import)\s+pyverbs\b", True),
    ("rdma.perftest", r"\b(?:ib_(?:write|read|send|atomic)_(?:bw|lat)|ibv_(?:rc|ud|uc|srq)_pingpong|rping)\b", True),
    ("rdma.tools", r"\b(?:ibv_devinfo|ibv_devices|ibstat|ibstatus)\b", True),
    ("rdma.mpi_ib", r"--mca\s+btl\s+\S*openib|\bbtl_openib\b|UCX_NET_DEVICES=\S*mlx|I_MPI_FABRICS=\S*ofa"
                    r"|FI_PROVIDER=verbs|\bMV2_USE_RDMA\b|\bNCCL_IB_HCA\b", True),
    ("rdma.package", r"\b(?:libibverbs-dev|rdma-core|librdmacm-dev|ibverbs-utils|perftest)\b", True),
    ("pmem.pmdk", r"#\s*include\s*[<\"]libpmem(?:obj|2|kv)?\b|-lpmem(?:obj|2)?\b|\bndctl\s+create-namespace"
                  r"|\bipmctl\b|/dev/dax\d|/mnt/pmem\d*|\bMEMKIND_DAX_KMEM\b", True),
))
# Cheap first look (plain substrings of the lower-cased text, far faster than the patterns): a file or a
# line without any of these cannot match a pattern above or below.
_HINTS = ("v++", "xclbin", "xrt", "xcl", "hls", "aoc", "intelfpga", "fpga", "pynq", "arm_neon", "arm_sve", "intrin.h",
          "spdk", "/dev/n", "uring_cmd", "nvme", "verbs", "rdma", "ib_write", "ib_read", "ib_send", "ib_atomic",
          "ibv_", "rping", "ibstat", "openib", "ucx_net", "mpi_fabrics", "fi_provider", "mv2_", "nccl_ib", "perftest",
          "pmem", "ndctl", "ipmctl", "/dev/dax", "memkind", "arch=", "arch_list", "architectures", "xilinx_")


def _hinted(text: str) -> bool:
    low = text.lower()
    return any(h in low for h in _HINTS)


# A C condition naming the feature makes its code optional (`#ifdef HAVE_RDMA`); so does any Makefile or
# CMake conditional (`ifeq ($(CONFIG_RDMA),y)`, `if(WITH_PMEM)`): such facts count half.
_FEATURE = re.compile(r"(?i)rdma|verbs|ibv|infiniband|pmem|spdk|xrt|fpga|nvme|uring|cuda")
_BUILD_IF = {"make": (re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef)\b"), re.compile(r"^\s*endif\b")),
             "cmake": (re.compile(r"(?i)^\s*if\s*\("), re.compile(r"(?i)^\s*endif\s*\("))}
OPTIONAL = 0.5
# Prebuilt release assets: an ARM build with no x86 one beside it in the same file is an ARM-only tool.
# Root filesystems, kernels and cross toolchains for ARM emulators are fetched by x86 hosts: not counted.
_DOWNLOAD = re.compile(r"(?i)\S*/releases/download/\S+")
_ARM_BUILD = re.compile(r"(?i)^(?!.*(?:toolchain|gcc|linux-gnu|none-elf|cross|rootfs|ubuntu-base))"
                        r".*[-_.](?:aarch64|arm64)[-_.]")
_X86_BUILD = re.compile(r"(?i)[-_.](?:x86_64|amd64|x64)[-_.]"
                        r"|\$\(?(?:arch|uname|dpkg\s+--print-architecture|TARGETARCH)")
_CUDA_ARCH = re.compile(r"(?:-arch|--gpu-architecture|arch)\s*=\s*(?:sm|compute)_(\d)(\d)")
_ARCH_LIST = re.compile(r"TORCH_CUDA_ARCH_LIST\W{0,8}([\d. ;+PTX]+)|CUDA_ARCHITECTURES\W{0,4}([\d; ]+)")
_FPGA_BOARD = re.compile(r"xilinx_(u\d{2,3}[a-z]?|vck\d{3,4}|vhk\d{3})_", re.I)
_REQUIRES = re.compile(r"(?i)\b(requires?|required|needs?|at\s+least|minimum|must\s+have|you(?:'ll| will)\s+need)\b")
_PROSE: tuple[tuple[str, re.Pattern[str], Any], ...] = tuple((s, re.compile(p, re.I), v) for s, p, v in (
    ("readme.fpga", r"\b(?:Xilinx|AMD)\s+(?:Alveo|FPGA)|\bAlveo\s+U\d+|\bVitis\b", "xilinx"),
    ("readme.fpga", r"\b(?:Intel|Altera)\s+(?:FPGA|Arria|Stratix|Agilex)|\bArria\s*10\b", "intel"),
    ("readme.rdma", r"\bInfiniBand\b|\bRDMA\b|\bRoCE\b", True),
    ("readme.pmem", r"\b(?:Optane\s+(?:DC\s+)?persistent\s+memory|NVDIMM|persistent\s+memory|PMEM)\b", True),
    ("readme.nvme", r"\b(\d|one|two|three|four)?\s*(?:dedicated\s+|spare\s+|local\s+|raw\s+)?NVMe\s+"
                    r"(?:SSDs?|drives?|devices?|disks?)\b", None),
))
# Statements of what the project is for, exclusive by themselves ("targeting Alveo Data Center platforms",
# "instructions which prevent compilation for other architectures like x86"): a requirement without "requires".
_PURPOSE: tuple[tuple[str, re.Pattern[str], str], ...] = tuple((s, re.compile(p, re.I), v) for s, p, v in (
    ("readme.fpga", r"\b(?:targets?|targeting|for|on|runs?\s+on)\s+(?:the\s+)?(?:AMD\s+|Xilinx\s+)?Alveo\b",
     "xilinx"),
    ("readme.fpga", r"\b(?:targets?|targeting|for|on)\s+(?:the\s+)?(?:Intel\s+)?(?:FPGA\s+PAC|Arria\s*10|Stratix\s*10"
                    r"|Agilex)\b", "intel"),
    ("readme.arm_only", r"\b(?:tailored|designed|written|optimi[sz]ed)\s+(?:specifically\s+|exclusively\s+)?for\s+Arm®?"
                        r"\s+(?:CPUs?|processors?|cores?|servers?)\b|prevents?\s+compilation\s+for\s+other\s+architectures"
                        r"|\b(?:aarch64|arm64)[\s-]only\b|\bnot\s+(?:supported|available)\s+on\s+x86", "aarch64"),
))
_APPLE = re.compile(r"(?i)apple|macos|\bm[1-4]\b|metal")
_TB_RAM = re.compile(r"(?i)(\d+(?:\.\d+)?)\s*(?:TB|TiB)\s+(?:of\s+)?(?:system\s+|main\s+|host\s+)?"
                     r"(?:RAM|memory|DRAM)\b")
_PROSE_HINTS = ("arm", "x86", "fpga", "alveo", "vitis", "arria", "stratix", "agilex", "infiniband", "rdma", "roce",
                "optane", "nvdimm", "persistent memory", "pmem", "nvme", "tb ", "tib ", "tb of", "tib of")
_NEGATED = re.compile(r"(?i)\b(not|no|without|optional(?:ly)?|unless)\b")
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}
_ARM_RUNNER = re.compile(r"(?i)\barm64\b|\baarch64\b|-arm\b|\bgraviton|\bampere")


def code_lines(kind: str, text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for the lines left once comments are gone: the shared comment stripper, plus
    C's `#if 0` blocks. Prose keeps every line."""
    if kind in _PROSE_KINDS:
        yield from enumerate(text.splitlines(), 1)
        return
    if0 = 0
    for no, line in enumerate(strip_comments(text, kind).splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if kind in _C_KINDS and stripped.startswith("#"):
            if if0:
                if0 += 1 if re.match(r"#\s*if", stripped) else -1 if re.match(r"#\s*endif", stripped) else 0
                continue
            if re.match(r"#\s*if\s+0\b", stripped):
                if0 = 1
                continue
        if not if0:
            yield no, line


def _value(signal: str, m: re.Match[str], value: Any) -> Any:
    if value is not None:
        return value
    if signal == "readme.nvme":
        word = (m.group(1) or "1").lower()
        return _WORDS.get(word) or int(word)
    return 1


def _guarded(stack: Sequence[str]) -> bool:
    return any(re.search(r"(?i)arm|neon|aarch64|sve", cond) for cond in stack)


DOCS = 0.7  # a command shown in a README (or its output) says less than a script or build file that runs it


def _parse_code(f: RepoFile, sink: FactSink, scale: float = 1.0) -> None:
    if not _hinted(f.text):
        return
    seen: set[str] = set()
    devices: set[str] = set()
    first_device: tuple[int, str] | None = None
    cc: tuple[float, int, str] | None = None
    conditions: list[str] = []  # open #if conditions of a C file, to tell guarded ARM code from ARM-only code
    build_if = 0  # open Makefile/CMake conditionals
    for no, line in code_lines(f.kind, f.text):
        if (f.kind in _C_KINDS and line.lstrip().startswith("#")
                and (m := re.match(r"\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)", line))):
            if m.group(1) in ("if", "ifdef", "ifndef"):
                conditions.append(m.group(2))
            elif m.group(1) == "endif" and conditions:
                conditions.pop()
            elif conditions:  # #else / #elif: the other branch of the same condition, still conditional
                conditions[-1] += " else " + m.group(2)
        if f.kind in _BUILD_IF:
            opens, closes = _BUILD_IF[f.kind]
            build_if = build_if + 1 if opens.match(line) else max(0, build_if - 1) if closes.match(line) else build_if
        if not _hinted(line):
            continue
        optional = build_if > 0 or any(_FEATURE.search(cond) for cond in conditions)
        for signal, pattern, value in _CODE:
            if not (m := pattern.search(line)):
                continue
            if signal == "storage.raw_nvme":
                devices.update(re.findall(r"/dev/nvme\d+n\d+(?!p)", line))
                first_device = first_device or (no, line)
                continue
            if signal == "arch.arm_simd" and _guarded(conditions):
                continue  # `#if defined(__ARM_NEON)`: one path of portable code
            if signal not in seen:
                seen.add(signal)
                base = confidence_of(signal) * (OPTIONAL if optional else 1.0) * scale
                sink.add(signal, _value(signal, m, value), no, line, confidence=base)
        if (board := _FPGA_BOARD.search(line)) and "fpga.board" not in seen:
            seen.add("fpga.board")
            sink.add("fpga.board", board.group(1).upper(), no, line, confidence=confidence_of("fpga.board") * scale)
        found = [int(a) + int(b) / 10 for a, b in _CUDA_ARCH.findall(line)]
        if m := _ARCH_LIST.search(line):
            listed = re.findall(r"\d+(?:\.\d)?", m.group(1) or m.group(2))
            found += [float(x) if "." in x else int(x) / 10 for x in listed]
        if found and (cc is None or min(found) < cc[0]):
            cc = (min(found), no, line)  # the oldest generation the file builds for is its floor
    if cc is not None and cc[0] >= 3.0:
        sink.add("build.cuda_arch", cc[0], cc[1], cc[2], confidence=confidence_of("build.cuda_arch") * scale)
    if first_device is not None:  # fio jobs and scripts that name raw NVMe devices need that many spare ones
        sink.add("storage.raw_nvme", len(devices), *first_device, confidence=confidence_of("storage.raw_nvme") * scale)


def _arm_downloads(f: RepoFile, sink: FactSink) -> None:
    """`wget .../tool-linux-aarch64.tar.gz` with no x86_64 (or per-architecture) download in the same file."""
    if f.kind not in ("shell", "dockerfile", "postbuild") or ("arch64" not in f.text and "arm64" not in f.text):
        return
    arm = [(no, line) for no, line in code_lines(f.kind, f.text)
           if (url := _DOWNLOAD.search(line)) and _ARM_BUILD.search(url.group(0))]
    if arm and not any(_X86_BUILD.search(line) for _, line in code_lines(f.kind, f.text) if _DOWNLOAD.search(line)):
        sink.add("arch.arm_binary", "aarch64", *arm[0])


def _parse_ci(f: RepoFile, sink: FactSink) -> None:
    """A CI workflow whose every runner is ARM builds and tests for aarch64 only."""
    runners = [(no, line) for no, line in code_lines(f.kind, f.text)
               if re.search(r"\bruns-on\s*:|^\s*platforms\s*:|^\s*arch\s*:", line)]
    if runners and all(_ARM_RUNNER.search(line) for _, line in runners):
        no, line = runners[0]
        sink.add("ci.arm_only", "aarch64", no, line, scope="main")


def _parse_prose(f: RepoFile, sink: FactSink) -> None:
    seen: set[str] = set()
    in_code = literal = False
    rst = f.rel.lower().endswith(".rst")
    block: list[str] = []  # the README's code blocks, line for line, read as shell commands below
    for no, line in code_lines(f.kind, f.text):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
            block.append("")
            continue
        if rst:  # an RST literal block: the indented lines after a paragraph ending in "::"
            opens = not in_code and line.rstrip().endswith("::")
            literal = (literal and (not line.strip() or line[:1] in " \t")) or opens
            if literal and line[:1] in " \t":
                block.append(line)
                continue
        block.append(line if in_code else "")
        if in_code or "<!--" in line or "badge" in line.lower():
            continue
        low = line.lower()
        if not any(h in low for h in _PROSE_HINTS):
            continue
        required = bool(_REQUIRES.search(line)) and not _NEGATED.search(line)
        for signal, pattern, value in _PROSE:
            if (m := pattern.search(line)) and f"{signal}{required}" not in seen:
                seen.add(f"{signal}{required}")
                sink.add(signal, _value(signal, m, value), no, line, confidence=0.6 if required else 0.3)
        for signal, pattern, value in _PURPOSE:
            if pattern.search(line) and f"{signal}:purpose" not in seen and not _APPLE.search(line):
                seen.add(f"{signal}:purpose")
                sink.add(signal, value, no, line)
        if (m := _TB_RAM.search(line)) and required and "readme.ram_tb" not in seen:
            seen.add("readme.ram_tb")
            sink.add("readme.ram", round(float(m.group(1)) * 1024), no, line)
        if board := re.search(r"(?i)\bAlveo\s+(U\d{2,3}[a-z]?)\b", line):
            sink.add("fpga.board", board.group(1).upper(), no, line, confidence=0.5)
    _parse_code(RepoFile(f.rel, "shell", "\n".join(block)), sink, scale=DOCS)


def parse(f: RepoFile, sink: FactSink) -> None:
    if f.kind == "ci":
        _parse_ci(f, sink)
    elif f.kind in _PROSE_KINDS:
        _parse_prose(f, sink)
    elif f.kind in _CODE_KINDS:
        _parse_code(f, sink)
        _arm_downloads(f, sink)
