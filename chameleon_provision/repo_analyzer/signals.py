"""The signal catalog: every kind of fact the scanner reports, what it means and how much it weighs.

Confidence is the probability-like weight a single occurrence carries before file factors (a
README nested in a sub-folder counts less than the root one; a file repo2docker ignores counts
less). rules.py combines facts of one category with a noisy-OR, so several independent weak hints
add up but never reach certainty. docs/analysis.md explains the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    category: str
    confidence: float
    meaning: str


# category -> what rules.py does with it:
#   gpu_hard     the workload needs a GPU (value: vendor)      gpu_soft   a GPU helps (value: vendor or "any")
#   gpu_optional a GPU build exists but is off by default      cpu_ok     an explicit CPU path exists
#   cpu_only     a CPU-only build was chosen                   gpu_count  GPUs used by one run (value: int)
#   gpu_memory*  GB per GPU (hard statement, tested-on, VRAM table, model-size estimate)
#   cuda / rocm / os / arch / framework / runtime / ram / cores / runtime_hours / compute_capability
#   fpga / fpga_model / arm_only / x86_simd / nvme / rdma / pmem   special hardware (hardware_signals.needs)
#   info         context for the AI only                       ignored    a trap that was seen and skipped
CATALOG: dict[str, Signal] = {
    # package managers (requirements*.txt, conda, pyproject, Pipfile, setup.py, conda-lock, install lines)
    "pkg.gpu_build": Signal("gpu_hard", 0.85, "a package that only works with a GPU (cupy, flash-attn, cudatoolkit)"),
    "pkg.gpu_tool": Signal("gpu_soft", 0.45, "a GPU monitoring/helper package (pynvml, gpustat)"),
    "pkg.gpu_extra": Signal("gpu_optional", 0.4, "a GPU package in an optional extra"),
    "pkg.cuda_index": Signal("gpu_hard", 0.8, "PyTorch/JAX wheels from a CUDA package index or +cuXXX build"),
    "pkg.rocm_build": Signal("gpu_hard", 0.9, "ROCm builds of frameworks (rocm index, tensorflow-rocm)"),
    "pkg.cpu_build": Signal("cpu_only", 0.7, "CPU-only builds (torch CPU index, tensorflow-cpu, jax[cpu])"),
    "pkg.framework": Signal("gpu_soft", 0.4, "a deep-learning framework that can use a GPU (torch, tensorflow, jax)"),
    "pkg.dl_library": Signal("gpu_soft", 0.3, "a library on top of a DL framework (transformers, diffusers, peft)"),
    "pkg.mpi": Signal("framework", 0.6, "MPI bindings or runtime (mpi4py, openmpi)"),
    "pkg.language": Signal("framework", 0.5, "the project's language/runtime stack (R, Julia, node.js)"),
    "pkg.stack": Signal("framework", 0.5, "a CPU scientific/data stack package (numpy, pandas, scikit-learn)"),
    "pkg.web": Signal("framework", 0.5, "a web framework (Flask, Django, FastAPI, Express, Shiny)"),
    "pkg.conda_channel": Signal("gpu_soft", 0.35, "the nvidia conda channel"),
    "pkg.cuda_version": Signal("cuda", 0.8, "a CUDA version pinned by a package"),
    "pkg.rocm_version": Signal("rocm", 0.8, "a ROCm version pinned by a package or index"),
    "runtime.python": Signal("runtime", 0.8, "Python version (runtime.txt, conda, requires-python)"),
    "runtime.r": Signal("runtime", 0.8, "R version (runtime.txt, renv.lock)"),
    "runtime.julia": Signal("runtime", 0.7, "Julia compat version"),
    "r2d.buildpack": Signal("info", 1.0, "which repo2docker buildpack would build this repository"),
    # containers
    "docker.gpu_base": Signal("gpu_hard", 0.85, "a CUDA/ROCm base image (nvidia/cuda, pytorch/pytorch, rocm/*)"),
    "docker.gpu_env": Signal("gpu_soft", 0.55, "NVIDIA_VISIBLE_DEVICES, CUDA_HOME, TORCH_CUDA_ARCH_LIST in an image"),
    "docker.cuda": Signal("cuda", 0.85, "CUDA version from a base image tag"),
    "docker.rocm": Signal("rocm", 0.85, "ROCm version from a base image tag"),
    "docker.os": Signal("os", 0.8, "Ubuntu version from a base image tag"),
    "docker.arch": Signal("arch", 0.7, "a base image pinned to linux/arm64"),
    "docker.base": Signal("info", 0.5, "a base image without GPU software"),
    "docker.run_gpus": Signal("gpu_hard", 0.8, "docker run --gpus in a documented command"),
    "compose.gpu_device": Signal("gpu_hard", 0.9, "a docker-compose GPU device request (driver: nvidia)"),
    "compose.amd_device": Signal("gpu_hard", 0.85, "/dev/kfd and /dev/dri passed to a container (ROCm)"),
    "compose.gpu_count": Signal("gpu_count", 0.8, "GPUs requested by docker-compose (count / device_ids)"),
    "devcontainer.gpu": Signal("gpu_hard", 0.8, "a devcontainer that asks for GPUs (--gpus, hostRequirements.gpu)"),
    "devcontainer.gpu_optional": Signal("gpu_optional", 0.6, "hostRequirements.gpu: optional"),
    # native builds
    "build.cuda": Signal("gpu_hard", 0.8, "a CUDA build step (nvcc, enable_language(CUDA), find_package(CUDA))"),
    "build.hip": Signal("gpu_hard", 0.85, "a HIP/ROCm build step (hipcc, /opt/rocm, find_package(hip))"),
    "build.cuda_optional": Signal("gpu_optional", 0.35, "a CUDA/HIP build behind an option or conditional"),
    "build.cuda_extension": Signal("gpu_hard", 0.6, "a PyTorch CUDAExtension in setup.py"),
    "build.mpi": Signal("framework", 0.7, "an MPI build (mpicxx, find_package(MPI))"),
    "build.openmp": Signal("framework", 0.5, "an OpenMP build (-fopenmp, find_package(OpenMP))"),
    "source.cuda_kernels": Signal("gpu_hard", 0.7, ".cu/.cuh kernel sources outside vendored trees"),
    "source.hip_kernels": Signal("gpu_hard", 0.8, ".hip kernel sources outside vendored trees"),
    "code.cuda_device": Signal("gpu_soft", 0.45, "code that moves work to 'cuda' or uses NCCL"),
    "code.cpu_fallback": Signal("cpu_ok", 0.45, "code that falls back to the CPU when CUDA is missing"),
    "code.gpu_library": Signal("gpu_soft", 0.5, "code importing cupy/pycuda/numba.cuda (the package is the hard one)"),
    # launch configs and job scripts
    "launch.multi_gpu": Signal("gpu_hard", 0.75, "accelerate/DeepSpeed config for multi-GPU training (use_cpu: false)"),
    "launch.num_processes": Signal("gpu_count", 0.8, "processes per machine in an accelerate config (one per GPU)"),
    "launch.cpu": Signal("cpu_ok", 0.7, "accelerate config with use_cpu: true or MULTI_CPU"),
    "launch.deepspeed": Signal("gpu_hard", 0.6, "a DeepSpeed JSON config"),
    "launch.trainer_gpus": Signal("gpu_count", 0.55, "gpus/devices in a trainer config with a GPU accelerator"),
    "launch.command": Signal("gpu_count", 0.65, "torchrun/accelerate/deepspeed launch with a process count"),
    "launch.visible_devices": Signal("gpu_count", 0.55, "CUDA_VISIBLE_DEVICES listing several GPUs"),
    "slurm.gpus": Signal("gpu_count", 0.85, "#SBATCH --gres=gpu:N / --gpus=N"),
    "slurm.gpu": Signal("gpu_hard", 0.8, "a batch script that requests GPUs"),
    "slurm.nodes": Signal("info", 0.7, "nodes requested by a batch script"),
    "slurm.cores": Signal("cores", 0.6, "CPU cores requested by a batch script"),
    "slurm.mem": Signal("ram", 0.6, "memory requested by a batch script"),
    "slurm.time": Signal("runtime_hours", 0.5, "wall time requested by a batch script"),
    "mpi.ranks": Signal("cores", 0.6, "mpirun/srun -np N"),
    # prose (README and docs)
    "readme.gpu_required": Signal("gpu_hard", 0.7, "prose says a GPU is required"),
    "readme.gpu_programming": Signal("gpu_hard", 0.7, "the project is about CUDA/HIP/ROCm programming"),
    "readme.gpu_hardware": Signal("gpu_soft", 0.55, "prose names GPU hardware the workload was run on"),
    "readme.gpu_mention": Signal("gpu_soft", 0.3, "prose mentions a GPU in passing"),
    "readme.gpu_optional": Signal("gpu_optional", 0.6, "prose says the GPU/CUDA is optional"),
    "readme.cpu_ok": Signal("cpu_ok", 0.6, "prose gives a CPU recipe or says no GPU is needed"),
    "readme.cpu_device": Signal("cpu_ok", 0.3, "prose mentions a laptop/Raspberry Pi/Apple device run"),
    "readme.gpu_count": Signal("gpu_count", 0.6, "prose states how many GPUs a run uses"),
    "readme.gpu_memory": Signal("gpu_memory", 0.75, "prose states GPU memory a run requires"),
    "readme.gpu_memory_tested": Signal("gpu_memory_soft", 0.55, "GPU memory of hardware the run was tested on"),
    "readme.vram_table": Signal("gpu_memory_table", 0.55, "largest entry of a VRAM/memory table"),
    "readme.model_memory": Signal("gpu_memory_model", 0.4, "GPU memory estimated from a model size and precision"),
    "readme.mpi": Signal("framework", 0.5, "prose or commands mention MPI/OpenMP builds and launches"),
    "readme.amd": Signal("gpu_soft", 0.5, "prose mentions ROCm/HIP/AMD GPUs"),
    "readme.cuda_version": Signal("cuda", 0.45, "prose names a CUDA version"),
    "readme.os": Signal("os", 0.35, "prose names an Ubuntu version"),
    "readme.ram": Signal("ram", 0.5, "prose states system RAM"),
    "readme.runtime": Signal("runtime_hours", 0.4, "prose states how long the main run takes"),
    "readme.compute_capability": Signal("compute_capability", 0.5, "prose requires Ampere or newer"),
    "pkg.compute_capability": Signal("compute_capability", 0.7, "a package needing a recent GPU generation"),
    # special hardware (hardware_signals.py): FPGA boards, ARM-only code, spare NVMe devices, RDMA, NVDIMM
    "fpga.vitis": Signal("fpga", 0.85, "a Xilinx Vitis build (v++, XCL_EMULATION_MODE)"),
    "fpga.xclbin": Signal("fpga", 0.8, "a Xilinx FPGA binary (.xclbin) built or loaded"),
    "fpga.xrt": Signal("fpga", 0.85, "host code on the Xilinx runtime (XRT headers, xcl2.hpp, pynq Overlay)"),
    "fpga.hls": Signal("fpga", 0.7, "Vivado/Vitis HLS kernels (#pragma HLS, vitis_hls)"),
    "fpga.intel": Signal("fpga", 0.85, "Intel FPGA SDK for OpenCL (aoc -board, .aocx) or oneAPI FPGA (-fintelfpga)"),
    "fpga.board": Signal("fpga_model", 0.8, "the FPGA board a Vitis platform or the docs name (xilinx_u280_...)"),
    "readme.fpga": Signal("fpga", 0.6, "prose names an FPGA (Alveo, Vitis, Arria); says the project targets one (0.6)"),
    "arch.arm_simd": Signal("arm_only", 0.8, "NEON/SVE intrinsics included without an ARM guard"),
    "ci.arm_only": Signal("arm_only", 0.7, "a CI workflow whose every runner is ARM64"),
    "readme.arm_only": Signal("arm_only", 0.65, "prose says the code is for Arm CPUs only (\"prevents compilation for "
                                                "other architectures\", \"tailored for Arm CPUs\")"),
    "arch.arm_binary": Signal("arm_only", 0.7, "a prebuilt aarch64 download with no x86_64 one beside it"),
    "source.x86_simd": Signal("x86_simd", 0.5, "x86 SIMD intrinsics (an x86 path beside any ARM code)"),
    "storage.spdk": Signal("nvme", 0.85, "SPDK: userspace NVMe drivers that take whole devices (headers, -lspdk)"),
    "storage.spdk_build": Signal("nvme", 0.75, "SPDK fetched or located by the build (SPDK_DIR, git clone spdk)"),
    "storage.nvme_passthrough": Signal("nvme", 0.8, "NVMe passthrough (/dev/ngXnY, io_uring commands, xNVMe)"),
    "storage.raw_nvme": Signal("nvme", 0.7, "commands or fio jobs on raw NVMe devices (value: how many)"),
    "readme.nvme": Signal("nvme", 0.6, "prose asks for NVMe drives"),
    "rdma.verbs": Signal("rdma", 0.85, "RDMA verbs code or linking (infiniband/verbs.h, -libverbs, rdmacm, pyverbs)"),
    "rdma.perftest": Signal("rdma", 0.7, "RDMA benchmarks in scripts (ib_write_bw, ibv_rc_pingpong, rping)"),
    "rdma.tools": Signal("rdma", 0.45, "RDMA device inspection in scripts (ibv_devinfo, ibstat)"),
    "rdma.mpi_ib": Signal("rdma", 0.65, "MPI/NCCL told to use InfiniBand (btl openib, UCX on mlx5, NCCL_IB_HCA)"),
    "rdma.package": Signal("rdma", 0.35, "RDMA packages installed (rdma-core, libibverbs-dev, perftest)"),
    "readme.rdma": Signal("rdma", 0.6, "prose asks for InfiniBand/RDMA"),
    "pmem.pmdk": Signal("pmem", 0.8, "persistent memory code or setup (libpmem, ndctl, /dev/dax, /mnt/pmem)"),
    "readme.pmem": Signal("pmem", 0.6, "prose asks for persistent memory / NVDIMM"),
    "build.cuda_arch": Signal("compute_capability", 0.75, "the oldest GPU generation a CUDA build targets "
                                                          "(-arch=sm_80, TORCH_CUDA_ARCH_LIST, CUDA_ARCHITECTURES)"),
    "ignored.trap": Signal("ignored", 0.0, "a hardware mention that was deliberately not used"),
}


def confidence_of(signal: str) -> float:
    spec = CATALOG.get(signal)
    if spec is None:
        raise KeyError(f"unknown signal {signal!r}; add it to signals.CATALOG")
    return spec.confidence


def category_of(signal: str) -> str:
    return CATALOG[signal].category
