"""Hardware statements in prose: GPU models, counts and memory, CPU recipes, model sizes.

Each sentence is read as one of three kinds: a *requirement* ("requires", "at least", "you'll
want"), a *benchmark* (a speed or a duration: "takes 3 minutes on one A100") or a *tested-on*
statement. Requirements set the memory floor; tested-on hardware is what is known to suffice;
a benchmark on a big datacenter GPU says nothing about memory (the run may be tiny), while a
consumer GPU in a benchmark ("runs within hours on a single RTX 4090") still says it fits there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chameleon_provision.repo_analyzer.facts import FactSink, Scope

# Memory per GPU (GB), most specific names first; vendor data sheets.
GPU_MEMORY: tuple[tuple[str, int], ...] = (
    ("GH200", 96), ("H200", 141), ("H100", 80), ("H800", 80), ("A100", 40), ("A800", 80), ("A6000", 48),
    ("A5000", 24), ("A4000", 16), ("A40", 48), ("A30", 24), ("A10", 24), ("L40", 48), ("L4", 24), ("T4", 16),
    ("V100", 16), ("P100", 16), ("P40", 24), ("K80", 12), ("M40", 12), ("RTX 6000", 24), ("RTX 8000", 48),
    ("5090", 32), ("4090", 24), ("3090", 24), ("4080", 16), ("3080 Ti", 12), ("3080", 10), ("4070", 12),
    ("3070", 8), ("3060", 12), ("2080 Ti", 11), ("2080", 8), ("1080 Ti", 11), ("1080", 8), ("Titan RTX", 24),
    ("Titan V", 12), ("Titan X", 12), ("MI300", 192), ("MI250", 128), ("MI210", 64), ("MI100", 32), ("MI50", 16),
    ("Max 1550", 128),
)
_MODEL = (r"(?P<model>GH200|H200|H100|H800|A100|A800|A6000|A5000|A4000|A40|A30|A10G?|L40S?|L4|T4|V100|P100|P40|K80|"
          r"M40|Quadro\s?RTX\s?\d{4}|RTX\s?A?\d{4}(?:\s?Ti)?|GTX\s?\d{3,4}(?:\s?Ti)?|Titan\s?(?:RTX|V|Xp?)|"
          r"MI\d{2,3}X?|Radeon\s?(?:RX\s?|Pro\s?)?\w+|Max\s?1550)")
_HW = re.compile(r"(?<![\w.])(?:(?P<count>\d{1,2})\s*[xX×*]\s*|(?P<count2>\d{1,2})\s+|"
                 r"(?P<word>(?i:single|one|two|four|eight|a|an))\s+"
                 r"(?:(?i:NVIDIA|AMD|Tesla|GeForce|Instinct|consumer)\s+)?|(?<![A-Za-z0-9]))" + _MODEL +
                 r"(?:s\b|\b)(?:\s*(?:\(|with\s+|,\s*|-|\s)\s*(?P<mem>\d{2,3})\s*(?:GB|GiB|G)\b)?")
_MEM_FORMS = (
    re.compile(r"(?i)(?P<mem>\d{1,3}(?:\.\d)?)\s*(?:GB|GiB|G)\b\s*(?:of\s+)?(?:GPU\s+|video\s+|graphics\s+)?"
               r"(?:VRAM|GPU\s+memory|GPU\s+RAM|graphics\s+memory)"),
    re.compile(r"(?i)GPUs?\s+(?:card\s+)?with\s+(?:at\s+least\s+|>=?\s*|≥\s*|a\s+minimum\s+of\s+)?(?P<mem>\d{1,3})"
               r"\s*(?:GB|GiB|G)\b"),
    re.compile(r"(?i)(?P<mem>\d{1,3})\s*(?:GB|GiB|G)\b\s+(?:\w+\s+)?GPUs?\b"),
    re.compile(r"(?i)(?:VRAM|GPU\s+memory)\s*(?:of|:|>=|≥)?\s*(?:at\s+least\s+)?~?(?P<mem>\d{1,3})\s*(?:GB|GiB|G)\b"),
)
_COUNT = re.compile(r"(?i)(?<![\w.])(?P<count>\d{1,2}|single|one|two|three|four|eight|a)\s*(?:x\s*)?"
                    r"(?:NVIDIA\s+|AMD\s+|CUDA\s+|consumer\s+)?GPUs?\b")
_MULTI = re.compile(r"(?i)\bmulti(?:ple)?[- ]?GPUs?\b")
_WORDS = {"single": 1, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "eight": 8}
REQUIREMENT = re.compile(r"(?i)\b(requires?|required|requirements?|need(?:s|ed)?|must|at least|minimum|min\.|"
                         r"you'?ll want|you will want|recommend\w*|necessary|mandatory)\b")
BENCHMARK = re.compile(r"(?i)\b(measured|benchmark\w*|speeds?|throughput|latency|faster|slower|takes?|took|it/s|"
                       r"tokens?/s|seconds?|minutes?|hours?|days?|within)\b")
SPONSOR = re.compile(r"(?i)\b(sponsor\w*|grants?|donat\w*|courtesy|thanks?\s+to|thank\s+you|powered\s+by|"
                     r"supported\s+by|funded|funding|credits?|generous(?:ly)?)\b")
CPU_OK = re.compile(r"(?i)(?:\b(?:runs?|running|works?|train\w*|inference|run\s+it)\s+(?:\w+\s+){0,3}?on\s+(?:a\s+|"
                    r"the\s+|your\s+)?CPUs?\b|\bCPU[- ]only\b|\bon\s+CPUs?\b|--device[= ]['\"]?cpu\b|device\s*=\s*"
                    r"['\"]cpu|\bno\s+GPUs?\s+(?:is\s+|are\s+)?(?:required|needed|necessary)|\bwithout\s+(?:a\s+|any\s+)?"
                    r"GPUs?\b|\bdoes(?:\s+not|n't)\s+(?:require|need)\s+(?:a\s+)?GPU|\bGPUs?\s+(?:is\s+|are\s+)?not\s+"
                    r"(?:required|needed|necessary)|\bCPU\s+(?:is\s+)?(?:enough|sufficient|fine)\b)")
_CONDITIONAL = re.compile(r"(?i)\bif\s+(?:you|your)\b[^.]{0,30}\b(?:have|has|got|own)\b|\bspeeds?\s*(?:it\s+)?up\b|"
                          r"\baccelerat\w*|\bfaster\b(?!-)|\b(?:when|if)\s+available\b|\b(?:if|when)\s+(?:running|"
                          r"run|using)\s+(?:on|with|an?)\b")
NEGATED = re.compile(r"(?i)\b(?:does\s+not|doesn't|do\s+not|don't|will\s+not|won't|not)\s+(?:require|need)\w*\s+"
                     r"(?:an?\s+|any\s+)?(?:special\s+|dedicated\s+|powerful\s+|fancy\s+)?(?:hardware|GPUs?|CUDA|"
                     r"graphics)|\bno\s+(?:special\s+)?(?:hardware|GPUs?)\s+(?:is\s+|are\s+)?(?:required|needed|necessary)")
_COMPARISON = re.compile(r"(?i)\bthan\b|\bfaster\b|\bslower\b|speed-?ups?\b")
CPU_DEVICE = re.compile(r"(?i)\b(macbook|laptop|raspberry\s*pi|apple\s+silicon|--device[= ]mps)\b")
GPU_OPTIONAL = re.compile(r"(?i)\b(?:GPU|CUDA)s?\b[^.]{0,40}\boptional(?:ly)?\b|\boptional(?:ly)?\b[^.]{0,40}\b(?:GPU|"
                          r"CUDA)s?\b|-D\w*(?:CUDA|GPU|HIP)\w*=(?:ON|1|TRUE)\b|\b(?:build|compil)\w*\s+(?:\w+\s+)?with\s+"
                          r"(?:CUDA|GPU|HIP)\s+support")
GPU_REQUIRED = re.compile(r"(?i)\b(?:requires?|required|need(?:s|ed)?|must\s+have)\s+(?:(?:an?|one|at\s+least|a\s+"
                          r"single|some)\s+)?(?:[\w-]+\s+){0,3}?(?:GPU|CUDA|graphics\s+card)s?\b|\b(?:GPU|CUDA)s?\b[^.]{0,30}\b(?:is|are)\s+(?:required|needed|necessary|mandatory)"
                          r"\b|\bCUDA[- ](?:capable|enabled|compatible)\s+GPU")
AMD = re.compile(r"\bROCm\b|\brocm\b|\bHIP\b|\bhipcc\b|\bAMD\s+(?:GPU|Instinct|Radeon)|\bInstinct\b|\bMI\d{3}X?\b")
NVIDIA = re.compile(r"\bCUDA\b|\bNVIDIA\b|\bcuDNN\b|\bnvcc\b")
GPU_WORD = re.compile(r"(?i)\bGPUs?\b")
_MPI = re.compile(r"\bMPI\b|\bmpi(?:cxx|cc|run|exec)\b|\bOpenMP\b")
_CUDA_VERSION = re.compile(r"(?i)\bCUDA\s*(?:toolkit\s*)?(?:version\s*)?(?:>=|≥|==|=|v)?\s*(\d{1,2}\.\d)(?!\d)")
_UBUNTU = re.compile(r"(?i)\bUbuntu\s*(\d{2}\.\d{2})\b")
_RAM = re.compile(r"(?i)(?P<ram>\d{1,4})\s*(?:GB|GiB|G)\s+(?:of\s+)?(?:system\s+|host\s+|CPU\s+)?(?:RAM|memory)\b")
_DURATION = re.compile(r"(?i)\b(?:takes?|took|in|within|about|for|~)\s*(?:about\s+|around\s+|roughly\s+|~)?"
                       r"(\d+(?:\.\d+)?)\s*(minutes?|mins?|hours?|hrs?|days?)\b")
_CC = re.compile(r"(?i)\b(Ampere|Ada|Hopper|Blackwell)\b[^.]{0,30}"
                 r"\b(?:or\s+newer|or\s+later|and\s+newer|required|only)\b|"
                 r"compute\s+capability\s*(?:>=|≥|of\s+at\s+least|at\s+least)\s*(\d\.\d)")
_SIZE = re.compile(r"(?i)(?<![\w.])(?:(?P<experts>\d)x)?(?P<size>\d{1,3}(?:\.\d)?)\s?B\b")
_ACTION = re.compile(r"(?i)\b(fine-?tun\w*|train\w*|runs?|running|infer\w*|serv(?:e|es|ing)|load\w*|generat\w*|"
                     r"deploy\w*)\b")
_HYPOTHETICAL = re.compile(r"(?i)\b(extend\w*|support\w*|available|releas\w*|compatible|also|other|larger|"
                           r"bigger|up\s+to|could|can\s+be|such\s+as|e\.g\.)\b")
# "314B parameters", "a 70-billion-parameter model": the size of the model itself, whatever is done with it
_PARAM_COUNT = re.compile(r"(?i)(?<![\w.])\d{1,4}(?:\.\d+)?\s?(?:B|billion)[- ]?(?:(?:total|activated|active)\s+)?"
                          r"(?:parameters?|params)\b")
_ACTIVE_PARAMS = re.compile(r"(?i)\b(activated|active)\b")
_MODEL_CONTEXT = re.compile(r"(?i)\b(model|llm|llama|mistral|mixtral|gemma|qwen|falcon|mpt|opt|gpt|bloom|phi|"
                            r"vicuna|alpaca|zephyr|parameters?|params|checkpoint|weights|base_model|model_name)")


@dataclass(frozen=True)
class Sentence:
    text: str
    line: int
    scope: Scope
    in_code: bool = False
    precision: str = ""  # the README's documented weight precision, for parameter counts that name none


def model_memory(model: str) -> int:
    flat = re.sub(r"\s+", " ", model)
    return next((gb for name, gb in GPU_MEMORY if name.lower() in flat.lower()), 0)


def _vendor(text: str, models: list[str]) -> str:
    if any(re.match(r"(?i)MI\d|Radeon", m) for m in models) or (AMD.search(text) and not NVIDIA.search(text)):
        return "amd"
    if models or NVIDIA.search(text):
        return "nvidia"
    return "any"


def estimate_model_memory(size_b: float, text: str) -> float:
    """GB for one model of size_b billion parameters, by precision and by what the sentence does with it.

    Bytes per parameter: fp32 4, fp16/bf16 2 (the default for inference), 8-bit 1, 4-bit 0.5.
    """
    low = text.lower()
    precision = 0.5 if re.search(r"4-?bit|int4|nf4|qlora|gptq|awq|load_in_4bit", low) else (
        1.0 if re.search(r"8-?bit|int8|fp8|load_8bit|load_in_8bit", low) else (
            4.0 if re.search(r"\bfp32\b|float32|full[- ]precision|single[- ]precision", low) else 2.0))
    if re.search(r"\b(q?lora|peft|adapter)", low):
        factor = 1.4  # frozen base weights plus adapters, activations and optimizer state for the adapters
    elif re.search(r"\b(train\w*|fine-?tun\w*|pre-?train\w*)\b", low):
        return size_b * 16 + 2  # mixed-precision Adam: weights, gradients, two moments, master copy
    else:
        # KV cache, activations and runtime buffers; a smaller share of the weights for very large models
        factor = 1.2 if size_b < 100 else 1.1
    return round(size_b * precision * factor + 2, 1)


_PRECISION = r"(4-?bit|int4|8-?bit|int8|fp8|bf16|fp16|fp32)"
_WEIGHTS_PRECISION = re.compile(r"(?i)\b" + _PRECISION + r"\s+(?:model\s+)?(?:weights?|checkpoints?)\b")
_QUANTIZATION = re.compile(r"(?i)\b" + _PRECISION + r"\s+quantiz\w*|\bquantiz\w*\b[^.\n]{0,30}\b" + _PRECISION)
_BYTES = {"4-bit": 0.5, "4bit": 0.5, "int4": 0.5, "8-bit": 1, "8bit": 1, "int8": 1, "fp8": 1, "bf16": 2, "fp16": 2,
          "fp32": 4}


def document_precision(text: str) -> str:
    """The weight precision a README documents for its model, or ''.

    The released weights' own precision ("we only provide FP8 weights") wins; else the lowest precision
    the model is said to run in ("supports 8-bit quantization"), since the floor is a minimum.
    """
    for pattern in (_WEIGHTS_PRECISION, _QUANTIZATION):
        found = [next(g for g in m.groups() if g).lower() for m in pattern.finditer(text)]
        if found:
            return {0.5: "4-bit", 1: "8-bit", 2: "bf16", 4: "fp32"}[min(_BYTES[p] for p in found)]
    return ""


def extract(s: Sentence, sink: FactSink) -> None:
    text = s.text
    hardware_words = GPU_WORD.search(text) or NVIDIA.search(text) or AMD.search(text) or _HW.search(text)
    if SPONSOR.search(text):
        if hardware_words:
            sink.add("ignored.trap", "sponsor/acknowledgement", s.line, text, scope="ignored")
        return
    negated = NEGATED.search(text)
    cpu = (CPU_OK.search(text) or negated) if not re.search(r"(?i)offload", text) else None  # offload: a GPU trick
    if cpu and (negated or not (_COMPARISON.search(text) and not re.search(r"(?i)no\s+GPU|without", text))):
        sink.add("readme.cpu_ok", "cpu", s.line, text, scope=s.scope)
    elif CPU_DEVICE.search(text):
        sink.add("readme.cpu_device", "cpu", s.line, text, scope=s.scope)
    model_size(s, sink)
    if s.in_code:  # commands: model ids with precision flags; prose statements are not read from code
        if m := _MPI.search(text):
            sink.add("readme.mpi", "MPI", s.line, text, scope=s.scope)
        return
    if GPU_OPTIONAL.search(text):
        sink.add("readme.gpu_optional", _vendor(text, []), s.line, text, scope=s.scope)
    _hardware(s, sink, required=bool(GPU_REQUIRED.search(text)) and not cpu, negated=bool(negated))
    if AMD.search(text):
        sink.add("readme.amd", "amd", s.line, text, scope=s.scope)
    if m := _MPI.search(text):
        sink.add("readme.mpi", "OpenMP" if m.group(0).lower() == "openmp" else "MPI", s.line, text, scope=s.scope)
    if m := _CUDA_VERSION.search(text):
        sink.add("readme.cuda_version", m.group(1), s.line, text, scope=s.scope)
    if m := _UBUNTU.search(text):
        sink.add("readme.os", f"ubuntu{m.group(1)}", s.line, text, scope=s.scope)
    if (m := _RAM.search(text)) and REQUIREMENT.search(text) and not re.search(r"(?i)GPU|VRAM", text):
        sink.add("readme.ram", int(m.group("ram")), s.line, text, scope=s.scope)
    if m := _CC.search(text):
        named = {"ampere": 8.0, "ada": 8.9, "hopper": 9.0, "blackwell": 10.0}
        cc = float(m.group(2)) if m.group(2) else named[m.group(1).lower()]
        sink.add("readme.compute_capability", cc, s.line, text, scope=s.scope)
    says_how_long = re.search(r"(?i)\b(train|run|fine-?tun|takes?)", text)
    if s.scope in ("main", "full") and (m := _DURATION.search(text)) and says_how_long:
        unit = m.group(2).lower()[0]
        hours = float(m.group(1)) * {"m": 1 / 60, "h": 1, "d": 24}[unit]
        sink.add("readme.runtime", round(hours, 2), s.line, text, scope=s.scope)


def _hardware(s: Sentence, sink: FactSink, *, required: bool, negated: bool = False) -> None:
    text = s.text
    kind = "requirement" if REQUIREMENT.search(text) and not negated else (
        "benchmark" if BENCHMARK.search(text) else "tested")
    models, counts, stated, from_models = [], [], [], []
    for m in _HW.finditer(text):
        models.append(m.group("model"))
        count = m.group("count") or m.group("count2") or m.group("word")
        if count:
            counts.append(_WORDS.get(count.lower(), 0) if not count.isdigit() else int(count))
        if m.group("mem"):
            stated.append(float(m.group("mem")))
        elif mem := model_memory(m.group("model")):
            from_models.append(float(mem))
    for form in _MEM_FORMS:
        stated += [float(m.group("mem")) for m in form.finditer(text) if 4 <= float(m.group("mem")) <= 640]
    if not counts and (count_match := _COUNT.search(text)):
        word = count_match.group("count").lower()
        counts.append(int(word) if word.isdigit() else _WORDS.get(word, 1))
    elif not counts and _MULTI.search(text) and kind == "requirement":
        counts.append(2)  # "requires multiple GPUs"; "users with multiple GPUs can..." is no count
    counts = [c for c in counts if 0 < c <= 64]
    # "if you have a GPU", "a GPU speeds it up", "GPU optional": the GPU is an option, not the run's size
    conditional = bool(GPU_OPTIONAL.search(text) or _CONDITIONAL.search(text))
    if not (models or stated or counts or required):
        if GPU_WORD.search(text) or NVIDIA.search(text):
            sink.add("readme.gpu_mention", _vendor(text, []), s.line, text, scope=s.scope)
        return
    vendor = _vendor(text, models)
    memory = max(stated) if stated else (min(from_models) if from_models else None)
    if conditional:  # an option ("if running on an RTX 3090, use CUDA 11.1"), not the run's size
        sink.add("readme.gpu_hardware", vendor, s.line, text, scope=s.scope, confidence=0.35)
    elif kind == "requirement" or required:
        sink.add("readme.gpu_required", vendor, s.line, text, scope=s.scope)
        if memory:
            sink.add("readme.gpu_memory", memory, s.line, text, scope=s.scope)
    else:
        weak = kind == "benchmark"
        sink.add("readme.gpu_hardware", vendor, s.line, text, scope=s.scope, confidence=0.35 if weak else None)
        if memory and (not weak or memory <= 24):
            sink.add("readme.gpu_memory_tested", memory, s.line, text, scope=s.scope,
                     confidence=0.45 if weak else None)
    if counts and not conditional:
        sink.add("readme.gpu_count", max(counts), s.line, text, scope=s.scope,
                 confidence=0.45 if kind == "benchmark" else None)


def model_size(s: Sentence, sink: FactSink) -> None:
    """A model size the documented run loads -> GPU memory estimate.

    Commands ('--base_model llama-7b-hf --load_8bit') count as they are. Prose counts only when one
    sentence does one thing with one size ("we fine-tune a 7B model with QLoRA"): lists of sizes a
    project *could* use ("easily extended to the 13b, 30b and 65b models") are not a workload.
    """
    if s.scope != "main" or not _MODEL_CONTEXT.search(s.text):
        return
    sizes = [float(m.group("size")) * int(m.group("experts") or 1) for m in _SIZE.finditer(s.text)]
    sizes = [b for b in sizes if 0.5 <= b <= 1000]
    sizes += [float(m.group(1)) for m in re.finditer(r"(?i)(\d{1,4}(?:\.\d+)?)\s?billion", s.text)]
    sizes = [b for b in sizes if 0.5 <= b <= 2000]
    says_size = bool(_PARAM_COUNT.search(s.text))
    if says_size and _ACTIVE_PARAMS.search(s.text):
        sizes = [max(sizes)]  # "671B total parameters with 37B activated": memory holds them all
    if not s.in_code and (len(set(sizes)) != 1 or not (_ACTION.search(s.text) or says_size)
                          or _HYPOTHETICAL.search(s.text)):
        return
    if sizes:
        text = s.text
        if says_size and s.precision and not re.search(r"(?i)\d-?bit|int\d|fp\d|bf16|float", text):
            text += f" ({s.precision})"
        gb = estimate_model_memory(max(sizes), text)
        sink.add("readme.model_memory", gb, s.line, s.text, scope=s.scope)
