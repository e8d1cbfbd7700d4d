"""Special-hardware signals: what counts, what is a comment, and what a portable code base looks like."""

from __future__ import annotations

from pathlib import Path

import pytest

from chameleon_provision.repo_analyzer import analyze
from chameleon_provision.repo_analyzer.hardware_signals import code_lines

REPOS = Path(__file__).parent / "fixtures" / "repos"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def signals(root: Path) -> dict[str, list[tuple[str, int, object]]]:
    out: dict[str, list[tuple[str, int, object]]] = {}
    for f in analyze(root).facts:
        out.setdefault(f.signal, []).append((f.evidence.file, f.evidence.line, f.value))
    return out


def test_c_comments_and_if0_blocks_are_not_code() -> None:
    text = ("// #include <arm_neon.h>\n/* #include <infiniband/verbs.h>\n still a comment */\n#if 0\n"
            "#pragma HLS pipeline\n#endif\nint x; // v++\n#include <libpmem.h>\n")
    assert [no for no, _ in code_lines("native_source", text)] == [7, 8]
    assert [no for no, _ in code_lines("make", "# v++ -t hw\n\tv++ -t hw\n")] == [2]


def test_vitis_repository_quotes_v_plus_plus_and_names_the_board() -> None:
    req = analyze(REPOS / "hw_vitis").requirements
    assert (req.fpga, req.fpga_model, req.arch, req.gpu.required) == ("xilinx", "U280", "x86_64", "no")
    assert any(e.file == "Makefile" and "v++" in e.text for e in req.evidence)
    assert "needs Xilinx U280 FPGA: v++" in req.reason
    # the commented-out U50 emulation line names no board
    assert "U50" not in {str(v) for *_, v in signals(REPOS / "hw_vitis").get("fpga.board", [])}


def test_intel_fpga_sdk_for_opencl(tmp_path: Path) -> None:
    write(tmp_path, {"Makefile": "bin/vadd.aocx: device/vadd.cl\n\taoc -board=a10gx device/vadd.cl -o $@\n"})
    assert analyze(tmp_path).requirements.fpga == "intel"


def test_hls_pragmas_in_comments_do_not_make_an_fpga_project(tmp_path: Path) -> None:
    write(tmp_path, {"src/k.cpp": "// #pragma HLS pipeline\n/* #pragma HLS unroll */\nint k() { return 1; }\n"})
    assert analyze(tmp_path).requirements.fpga is None


def test_unguarded_neon_is_arm_only_but_guarded_or_x86_backed_neon_is_portable(tmp_path: Path) -> None:
    assert analyze(REPOS / "hw_arm_neon").requirements.arch == "aarch64"
    guarded = write(tmp_path / "guarded", {"simd.c": "#if defined(__ARM_NEON)\n#include <arm_neon.h>\n#else\n"
                                                     "#include <immintrin.h>\n#endif\n"})
    assert analyze(guarded).requirements.arch == "x86_64"
    both = write(tmp_path / "both", {"neon/k.c": "#include <arm_neon.h>\n", "x86/k.c": "#include <immintrin.h>\n"})
    assert analyze(both).requirements.arch == "x86_64"


def test_ci_with_only_arm_runners_is_arm_only_and_a_mixed_matrix_is_not(tmp_path: Path) -> None:
    arm = write(tmp_path / "arm", {".github/workflows/ci.yml": "jobs:\n  t:\n    runs-on: ubuntu-24.04-arm\n"})
    assert analyze(arm).requirements.arch == "aarch64"
    mixed = write(tmp_path / "mixed", {".github/workflows/ci.yml": "jobs:\n  a:\n    runs-on: ubuntu-24.04-arm\n"
                                                                   "  b:\n    runs-on: ubuntu-latest\n"})
    assert analyze(mixed).requirements.arch == "x86_64"


def test_spdk_and_fio_on_raw_devices_count_the_devices() -> None:
    found = signals(REPOS / "hw_spdk")
    assert ("baseline.fio", 5, 2) in found["storage.raw_nvme"]
    assert analyze(REPOS / "hw_spdk").requirements.local_nvme == 2


def test_a_partition_or_a_mention_is_not_a_raw_device_need(tmp_path: Path) -> None:
    write(tmp_path, {"setup.sh": "mount /dev/nvme0n1p1 /data\n", "README.md": "# x\n\nWorks well on NVMe SSDs.\n"})
    assert analyze(tmp_path).requirements.local_nvme == 0


def test_rdma_verbs_code_needs_infiniband_but_an_rdma_package_alone_does_not(tmp_path: Path) -> None:
    req = analyze(REPOS / "hw_rdma").requirements
    assert req.rdma and any("ibverbs" in e.text for e in req.evidence)
    write(tmp_path, {"Dockerfile": "FROM ubuntu:22.04\nRUN apt-get install -y rdma-core libibverbs-dev\n",
                     "README.md": "# t\n\nRDMA is not required; TCP works.\n"})
    assert analyze(tmp_path).requirements.rdma is False


@pytest.mark.parametrize(("files", "floor"), [
    ({"Makefile": "NVCCFLAGS = -gencode arch=compute_70,code=sm_70 -gencode arch=compute_80,code=sm_80\n"
                  "all:\n\tnvcc $(NVCCFLAGS) k.cu\n"}, 7.0),
    ({"Makefile": "all:\n\tnvcc -arch=sm_80 k.cu\n"}, 8.0),
    ({"CMakeLists.txt": "project(k LANGUAGES CUDA)\nset(CMAKE_CUDA_ARCHITECTURES 86 90)\n"}, 8.6),
    ({"Dockerfile": "FROM nvidia/cuda:12.1.0-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST=\"8.0;8.6+PTX\"\n"}, 8.0),
])
def test_the_oldest_generation_a_cuda_build_targets_is_its_floor(tmp_path: Path, files: dict[str, str],
                                                                 floor: float) -> None:
    req = analyze(write(tmp_path, files)).requirements
    assert req.gpu.required == "yes" and req.gpu.min_compute_capability == floor


def test_persistent_memory_and_a_terabyte_of_ram_in_the_readme() -> None:
    req = analyze(REPOS / "hw_pmem_1tb").requirements
    assert req.persistent_memory and req.ram_gb == 1024


def test_a_vitis_platform_default_names_the_preferred_board(tmp_path: Path) -> None:
    write(tmp_path, {"Makefile": "PLATFORM ?= xilinx_u250_gen3x16_xdma_4_1_202210_1\n"
                                 "krnl.xclbin: krnl.cpp\n\tv++ -t hw --platform $(PLATFORM) -o $@ $<\n"})
    req = analyze(tmp_path).requirements
    assert (req.fpga, req.fpga_model) == ("xilinx", "U250")


def test_optional_build_branches_count_half(tmp_path: Path) -> None:
    write(tmp_path, {"Makefile": "ifeq ($(CONFIG_RDMA),y)\nLDLIBS += -libverbs\nendif\nall:\n\tcc main.c\n",
                     "main.c": "#ifdef HAVE_RDMA\n#include <infiniband/verbs.h>\n#endif\nint main(void){return 0;}\n"})
    found = {f.signal: f.confidence for f in analyze(tmp_path).facts if f.signal == "rdma.verbs"}
    assert found == {"rdma.verbs": 0.425}
    assert analyze(tmp_path).requirements.rdma is False


def test_an_aarch64_only_prebuilt_download_is_arm_only_and_a_per_arch_one_is_not(tmp_path: Path) -> None:
    arm = write(tmp_path / "arm", {"install.sh": "wget https://github.com/o/t/releases/download/v1/t-linux-arm64.tgz\n"})
    assert analyze(arm).requirements.arch == "aarch64"
    both = write(tmp_path / "both", {"install.sh": "wget https://github.com/o/t/releases/download/v1/t-linux-aarch64.tgz\n"
                                                   "wget https://github.com/o/t/releases/download/v1/t-linux-x86_64.tgz\n"})
    assert analyze(both).requirements.arch == "x86_64"
    emulator = write(tmp_path / "emulator", {"Dockerfile": "FROM ubuntu:24.04\nRUN wget https://github.com/o/t/releases/"
                                                           "download/v1/arm-gnu-toolchain-aarch64-none-elf.tar.xz\n"})
    assert analyze(emulator).requirements.arch == "x86_64"


def test_blackwell_or_newer_in_prose_is_a_10_0_floor(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "torch==2.7.0\n",
                     "README.md": "# k\n\nRequires an NVIDIA GPU, Blackwell or newer.\n"})
    assert analyze(tmp_path).requirements.gpu.min_compute_capability == 10.0


def test_prose_that_says_what_the_project_is_for(tmp_path: Path) -> None:
    arm = write(tmp_path / "arm", {"README.md": "# k\n\nMicro-kernels tailored for Arm® CPUs. They use instructions "
                                                "which prevent compilation for other architectures like x86.\n"})
    assert analyze(arm).requirements.arch == "aarch64"
    apple = write(tmp_path / "apple", {"README.md": "# m\n\nAn array framework designed for Arm CPUs of Apple "
                                                    "silicon.\n"})
    assert analyze(apple).requirements.arch == "x86_64"
    alveo = write(tmp_path / "alveo", {"README.md": "# e\n\nExamples of the Vitis tools targeting Alveo Data Center "
                                                    "platforms.\n"})
    assert analyze(alveo).requirements.fpga == "xilinx"


def test_rst_literal_blocks_are_read_as_commands(tmp_path: Path) -> None:
    write(tmp_path, {"README.rst": "Host\n====\n\nThe host code::\n\n    auto k = xrt::kernel(device, uuid);\n\n"
                                   "Output::\n\n    INFO: opened NVME SSD /dev/nvme0n1\n"})
    facts = {f.signal: f for f in analyze(tmp_path).facts}
    assert facts["fpga.xrt"].evidence.line == 6
    # a device in a README's shown output is weaker than a script that opens it: no NVMe need on its own
    assert facts["storage.raw_nvme"].confidence < 0.5 and analyze(tmp_path).requirements.local_nvme == 0
