"""Package names and install lines -> facts. Shared by every parser that lists dependencies.

The tables name what a dependency implies about hardware. A GPU *build* of a framework (a CUDA
index URL, `+cu118`, cudatoolkit) is a strong signal; the framework itself (`torch`) only says a GPU
would help, because the default wheels also run on a CPU. `triton` is deliberately absent: it is a
plain Linux dependency of torch and of whisper, not a sign that a GPU is needed.
"""

from __future__ import annotations

import re

from chameleon_provision.repo_analyzer.facts import FactSink

# name -> (vendor, confidence); exact names after normalise()
GPU_ONLY: dict[str, tuple[str, float]] = {
    "cupy": ("nvidia", 0.9), "pycuda": ("nvidia", 0.9), "tensorflow-gpu": ("nvidia", 0.9),
    "flash-attn": ("nvidia", 0.9), "xformers": ("nvidia", 0.8), "bitsandbytes": ("nvidia", 0.8),
    "deepspeed": ("nvidia", 0.7), "vllm": ("nvidia", 0.85), "onnxruntime-gpu": ("nvidia", 0.85),
    "faiss-gpu": ("nvidia", 0.85), "paddlepaddle-gpu": ("nvidia", 0.85), "cudatoolkit": ("nvidia", 0.9),
    "cuda-toolkit": ("nvidia", 0.9), "cuda-nvcc": ("nvidia", 0.85), "cuda-runtime": ("nvidia", 0.85),
    "cuda-version": ("nvidia", 0.8), "pytorch-cuda": ("nvidia", 0.9), "pytorch-gpu": ("nvidia", 0.85),
    "cudnn": ("nvidia", 0.85), "nccl": ("nvidia", 0.8), "tensorrt": ("nvidia", 0.85),
    "torch-tensorrt": ("nvidia", 0.85), "auto-gptq": ("nvidia", 0.8), "autoawq": ("nvidia", 0.8),
    "exllamav2": ("nvidia", 0.85), "mamba-ssm": ("nvidia", 0.85), "causal-conv1d": ("nvidia", 0.85),
    "nvidia-dali": ("nvidia", 0.85), "tinycudann": ("nvidia", 0.9), "gsplat": ("nvidia", 0.8),
    "diff-gaussian-rasterization": ("nvidia", 0.9), "unsloth": ("nvidia", 0.9), "liger-kernel": ("nvidia", 0.8),
    "transformer-engine": ("nvidia", 0.9), "megatron-core": ("nvidia", 0.8), "cuquantum": ("nvidia", 0.9),
    "numba-cuda": ("nvidia", 0.85), "rapids": ("nvidia", 0.9), "magma": ("nvidia", 0.6),
    "pytorch-triton-rocm": ("amd", 0.9), "tensorflow-rocm": ("amd", 0.9), "hip-python": ("amd", 0.9),
    "jax-rocm": ("amd", 0.9), "amdsmi": ("amd", 0.5),
}
GPU_PREFIXES: tuple[tuple[str, str, float], ...] = (
    ("cupy-cuda", "nvidia", 0.9), ("mxnet-cu", "nvidia", 0.85), ("spconv-cu", "nvidia", 0.85),
    ("cudf-cu", "nvidia", 0.9), ("cuml-cu", "nvidia", 0.9), ("cugraph-cu", "nvidia", 0.9),
    ("magma-cuda", "nvidia", 0.8), ("jax-cuda", "nvidia", 0.9), ("nvidia-", "nvidia", 0.85), ("rocm-", "amd", 0.85),
)
GPU_TOOLS = {"pynvml", "nvidia-ml-py", "nvidia-ml-py3", "gpustat", "gputil", "nvitop"}
CPU_ONLY: dict[str, float] = {"tensorflow-cpu": 0.7, "faiss-cpu": 0.3, "torch-cpu": 0.7}
FRAMEWORKS: dict[str, str] = {
    "torch": "pytorch", "pytorch": "pytorch", "torchvision": "pytorch", "torchaudio": "pytorch",
    "pytorch-lightning": "pytorch", "lightning": "pytorch", "tensorflow": "tensorflow", "tf-nightly": "tensorflow",
    "keras": "keras", "jax": "jax", "jaxlib": "jax", "flax": "jax", "mxnet": "mxnet", "paddlepaddle": "paddle",
}
DL_LIBRARIES = {"transformers", "diffusers", "accelerate", "peft", "trl", "timm", "sentence-transformers",
                "open-clip-torch", "fairseq", "detectron2", "mmcv", "mmcv-full", "mmdet", "ultralytics",
                "torch-geometric", "dgl", "lightning-fabric", "openai-whisper", "pyannote-audio", "nemo-toolkit"}
DATA_STACK = {"numpy", "pandas", "scipy", "scikit-learn", "sklearn", "matplotlib", "jupyter", "jupyterlab", "notebook",
              "xgboost", "lightgbm", "statsmodels", "seaborn", "polars", "dask", "numba", "sympy", "networkx"}
# web frameworks: a service, not a GPU workload; named so the user sees what the repository is
WEB_FRAMEWORKS: dict[str, str] = {
    "flask": "Flask", "django": "Django", "fastapi": "FastAPI", "starlette": "Starlette", "tornado": "Tornado",
    "aiohttp": "aiohttp", "sanic": "Sanic", "pyramid": "Pyramid", "bottle": "Bottle", "falcon": "Falcon",
    "quart": "Quart", "litestar": "Litestar", "streamlit": "Streamlit", "gradio": "Gradio", "dash": "Dash",
    "express": "Express", "koa": "Koa", "fastify": "Fastify", "next": "Next.js", "nuxt": "Nuxt",
    "@nestjs/core": "NestJS", "rails": "Rails", "sinatra": "Sinatra", "shiny": "Shiny", "plumber": "plumber",
}
MPI = {"mpi4py", "openmpi", "mpich", "impi", "impi-rt", "horovod"}
# packages whose kernels need a recent GPU generation: (min compute capability, why)
NEEDS_CC: dict[str, float] = {"flash-attn": 8.0, "transformer-engine": 8.0}
LAUNCH_INDEX = re.compile(r"download\.pytorch\.org/whl/(?:nightly/)?(cu\d{2,3}|rocm[\d.]+|cpu)\b|"
                          r"jax-releases/(jax_cuda|cuda)|storage\.googleapis\.com/jax-releases/jax_cuda", re.I)
_SPEC = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<rest>.*)$")
_VERSION = re.compile(r"(\d+(?:\.\d+)?)")
_LOCAL_CU = re.compile(r"\+(cu\d{2,3}|rocm[\d.]+|cpu)\b", re.I)
_CONDA_BUILD_CUDA = re.compile(r"cuda[_-]?(\d+\.\d+|\d{2,3})", re.I)
_INSTALL = re.compile(r"\b(?:pip3?|uv\s+pip|python3?\s+-m\s+pip|conda|mamba|micromamba)\s+install\b(?P<args>.*)")
_FLAGS_WITH_ARG = {"-r", "--requirement", "-c", "--constraint", "--channel", "-i", "--index-url", "--extra-index-url",
                   "-f", "--find-links", "--python", "-p", "--prefix", "-n", "--name", "--target", "-t"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def cuda_from_tag(tag: str) -> str | None:
    """cu118 -> 11.8, cu92 -> 9.2, cuda12.1 -> 12.1, cuda11x -> 11."""
    tag = tag.lower()
    m = re.search(r"cu(?:da)?[-_]?(\d+)\.(\d+)", tag)
    if m:
        return f"{int(m.group(1))}.{int(m.group(2))}"
    m = re.search(r"cu(?:da)?[-_]?(\d{2,3})(?!\d)", tag)
    if not m:
        return None
    digits = m.group(1)
    if len(digits) == 2 and digits.startswith("1"):  # -cu12, cuda11x: a major version only
        return digits
    return f"{int(digits[:-1])}.{digits[-1]}"


def rocm_from_tag(tag: str) -> str | None:
    m = re.search(r"rocm[-_]?(\d+)\.(\d+)", tag, re.I)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def index_url(sink: FactSink, url: str, line: int, text: str) -> None:
    """A package index or find-links URL: the PyTorch/JAX CUDA, ROCm and CPU wheel indexes."""
    m = LAUNCH_INDEX.search(url)
    if not m:
        return
    tag = (m.group(1) or "cuda").lower()
    if tag == "cpu":
        sink.add("pkg.cpu_build", "cpu", line, text, confidence=0.75)
    elif tag.startswith("rocm"):
        sink.add("pkg.rocm_build", "amd", line, text)
        if version := rocm_from_tag(tag):
            sink.add("pkg.rocm_version", version, line, text)
    else:
        sink.add("pkg.cuda_index", "nvidia", line, text)
        if version := cuda_from_tag(tag):
            sink.add("pkg.cuda_version", version, line, text, confidence=0.75)


def requirement(sink: FactSink, spec: str, line: int, text: str, *, optional: bool = False,
                conda: bool = False) -> str | None:
    """One dependency spec ("torch==2.0.1+cu118", "jax[cuda12]", "cudatoolkit=11.3"); returns its name."""
    spec = spec.strip().strip("'\"")
    if not spec or spec.startswith(("#", "-", "/", ".")):
        return None
    if spec.startswith(("git+", "http://", "https://")):
        egg = re.search(r"#egg=([\w.-]+)", spec)
        spec = egg.group(1) if egg else spec.rstrip("/").split("/")[-1].removesuffix(".git").split("@")[0]
    if "::" in spec:  # conda channel::name
        spec = spec.split("::", 1)[1]
    m = _SPEC.match(spec)
    if not m:
        return None
    name, extras, rest = normalise(m.group("name")), (m.group("extras") or "").lower(), m.group("rest")
    version = _VERSION.search(rest.split(";")[0])
    local = _LOCAL_CU.search(rest)
    if local:
        index_url(sink, "download.pytorch.org/whl/" + local.group(1).lower(), line, text)
    gpu = GPU_ONLY.get(name) or next(((v, c) for p, v, c in GPU_PREFIXES if name.startswith(p)), None)
    if name in GPU_TOOLS:
        sink.add("pkg.gpu_tool", "nvidia", line, text)
    elif gpu:
        sink.add("pkg.gpu_extra" if optional else "pkg.gpu_build", gpu[0], line, text,
                 confidence=None if optional else gpu[1])
        cuda = cuda_from_tag(name) if "cu" in name else None
        if name in ("cudatoolkit", "cuda-toolkit", "pytorch-cuda", "cuda-version", "cuda-runtime", "cuda-nvcc"):
            cuda = version.group(1) if version else None
        if cuda and not optional:
            sink.add("pkg.cuda_version", cuda, line, text)
        if name in NEEDS_CC and not optional and not _old_flash_attn(name, rest):
            sink.add("pkg.compute_capability", NEEDS_CC[name], line, text)
    elif name in CPU_ONLY:
        sink.add("pkg.cpu_build", "cpu", line, text, confidence=CPU_ONLY[name])
    if "cuda" in extras or "and-cuda" in extras:
        sink.add("pkg.gpu_extra" if optional else "pkg.gpu_build", "nvidia", line, text)
        if (cuda := cuda_from_tag(extras)) and not optional:
            sink.add("pkg.cuda_version", cuda, line, text, confidence=0.6)
    elif "rocm" in extras:
        sink.add("pkg.rocm_build", "amd", line, text)
    elif extras == "cpu" and name in FRAMEWORKS:
        sink.add("pkg.cpu_build", "cpu", line, text, confidence=0.6)
    if name in FRAMEWORKS:
        sink.add("pkg.framework", FRAMEWORKS[name], line, text)
        if conda and (build := _CONDA_BUILD_CUDA.search(rest)):
            sink.add("pkg.cuda_index", "nvidia", line, text)
            if cuda := cuda_from_tag("cuda" + build.group(1)):
                sink.add("pkg.cuda_version", cuda, line, text)
    elif name in DL_LIBRARIES:
        sink.add("pkg.dl_library", name, line, text)
    elif name in MPI:
        sink.add("pkg.mpi", "MPI", line, text)
    elif name in DATA_STACK:
        sink.add("pkg.stack", name, line, text)
    elif name in WEB_FRAMEWORKS:
        sink.add("pkg.web", WEB_FRAMEWORKS[name], line, text)
    elif name in ("r-base", "r-essentials"):
        sink.add("pkg.language", "R", line, text)
    return name


def _old_flash_attn(name: str, rest: str) -> bool:
    """flash-attn 1.x still ran on Turing; only 2.x needs Ampere."""
    m = re.search(r"(?:==|~=|<=?)\s*(\d+)", rest)
    return name == "flash-attn" and m is not None and int(m.group(1)) < 2


def install_command(sink: FactSink, text: str, line: int) -> bool:
    """`pip install ...`, `uv pip install`, `conda install ...` in a README, script or RUN line."""
    m = _INSTALL.search(text)
    if not m:
        return False
    is_conda = bool(re.search(r"\b(conda|mamba|micromamba)\s+install", text))
    tokens = m.group("args").replace("\\", " ").split()
    skip_next = False
    for i, token in enumerate(tokens):
        if skip_next:
            skip_next = False
            if tokens[i - 1] in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
                index_url(sink, token, line, text)
            elif tokens[i - 1] in ("-c", "--channel") and token == "nvidia":
                sink.add("pkg.conda_channel", "nvidia", line, text)
            continue
        if token in ("&&", "||", ";", "|") or token.startswith(("#", ">")):
            break
        if token.startswith("--") and "=" in token:
            flag, value = token.split("=", 1)
            if flag in ("--index-url", "--extra-index-url", "--find-links"):
                index_url(sink, value, line, text)
            continue
        if token in _FLAGS_WITH_ARG:
            skip_next = True
            continue
        if token.startswith("-"):
            continue
        requirement(sink, token.strip("'\""), line, text, conda=is_conda)
    return True
