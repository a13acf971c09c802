#!/usr/bin/env python3
"""Fault lab: produce REAL failure logs on a GPU machine by injecting one fault per case.

Each case runs a real program (PyTorch, CuPy, CUDA C++, NCCL through torch.distributed, Open MPI,
pip, transformers / huggingface_hub, the loader) with one thing broken on purpose, and keeps its
merged stdout+stderr exactly as a user would capture it (``cmd 2>&1 | tee log``). The label of
each log is the fault that was injected, decided before the run, never from the output.

    python3 tools/faultlab.py --out DIR [--only NAME,...] [--list]
    python3 tools/faultlab.py --dump-strings FILE.json     # error strings of the CUDA libraries here

It needs a Linux machine with an NVIDIA GPU, the CUDA toolkit (nvcc), python3 with torch, cupy,
cuda-bindings, mpi4py, transformers, safetensors, and Open MPI's mpirun; it runs as root for the
cases that mount a tiny /dev/shm or a full disk (in a private mount namespace) or that set a
cgroup memory limit. Cases whose prerequisite is missing are recorded as skipped, never faked.
The machine is assumed to be disposable: a few cases rename a library for their duration.

Output: DIR/<case>.log, DIR/INDEX.toml (expected cause, exit code, the injected fault, the
command), DIR/runs.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable


@dataclass
class Case:
    name: str
    cause: str  # the injected fault's root cause (trtllm-doctor cause id); "none" for a clean run
    fault: str  # what was broken, in words
    cmd: str  # bash command line, run in the case's own folder
    files: dict[str, str] = field(default_factory=dict)  # files written into that folder first
    timeout: int = 90
    needs: tuple[str, ...] = ()  # executables or python modules that must exist
    env: dict[str, str] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # other causes a reader could defend (kept in the index)


# --- helper programs -------------------------------------------------------------------------

CUDA_CHECK_H = r"""
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>
#define CHECK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
  fprintf(stderr, "CUDA error at %s:%d code=%d(%s) \"%s\": %s\n", __FILE__, __LINE__, (int)e_, \
          cudaGetErrorName(e_), #call, cudaGetErrorString(e_)); exit(EXIT_FAILURE); } } while (0)
"""

KERNEL_CU = CUDA_CHECK_H + r"""
__global__ void scale(float* x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= 2.f; }
int main(int argc, char** argv) {
  int n = 1 << 20; float* d = nullptr;
  size_t bytes = argc > 1 ? strtoull(argv[1], nullptr, 10) : n * sizeof(float);
  int threads = argc > 2 ? atoi(argv[2]) : 256;
  printf("allocating %zu bytes on the GPU\n", bytes);
  CHECK(cudaMalloc(&d, bytes));
  scale<<<(n + threads - 1) / threads, threads>>>(d, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  printf("ok\n");
  return 0;
}
"""

BAD_ALLOC_CPP = r"""
#include <vector>
#include <cstdio>
int main() {
  std::printf("[loader] reading 64 shards into host memory\n");
  std::vector<std::vector<char>> shards;
  for (int i = 0; i < 64; ++i) shards.emplace_back(size_t(8) << 30, 0);
  std::printf("done %zu\n", shards.size());
}
"""

# An extension module's shape without Python.h (not every image has it): the loader resolves every
# symbol when Python dlopens the module (RTLD_NOW), before PyInit_ runs, so the failure is the loader's.
EXT_CPP = r"""
namespace %(ns)s { void %(fn)s(int level); }
extern "C" void* PyInit_%(mod)s(void) { %(ns)s::%(fn)s(1); return nullptr; }
"""

GLIBC_CPP = r"""
#include <cstring>
static char buf[64];
extern "C" void* touch(const char* s) { return memcpy(buf, s, strlen(s)); }
extern "C" void* PyInit_fastjson(void) { return touch("x"); }
"""

DIST_ALLREDUCE = r"""
import os, datetime, torch, torch.distributed as dist
rank = int(os.environ.get("RANK", "0"))
device = int(os.environ.get("FORCE_DEVICE", os.environ.get("LOCAL_RANK", "0")))
torch.cuda.set_device(device)
dist.init_process_group("nccl", timeout=datetime.timedelta(seconds=int(os.environ.get("PG_TIMEOUT", "60"))))
x = torch.ones(1 << 20, device="cuda") * (rank + 1)
dist.all_reduce(x)
torch.cuda.synchronize()
print(f"rank {rank}: all_reduce ok, x[0]={x[0].item()}")
dist.destroy_process_group()
"""

GLOO_TIMEOUT = r"""
import os, time, datetime, torch, torch.distributed as dist
rank = int(os.environ["RANK"])
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=10))
x = torch.ones(4)
if rank == 1:
    print("rank 1: loading weights (slow)", flush=True)
    time.sleep(40)
dist.all_reduce(x)
print(f"rank {rank}: done")
"""

MPI_OOM_ABORT = r"""
import sys, traceback
from mpi4py import MPI
import torch
comm = MPI.COMM_WORLD
rank = comm.Get_rank()
torch.cuda.set_device(0)
print(f"[rank {rank}] loading weights for tp_size={comm.Get_size()}", flush=True)
try:
    if rank == 1:
        w = torch.empty(400 * 2**30, dtype=torch.uint8, device="cuda")
    else:
        w = torch.empty(2**20, dtype=torch.uint8, device="cuda")
    comm.Barrier()
except Exception:
    traceback.print_exc()
    sys.stderr.flush()
    comm.Abort(1)
print(f"[rank {rank}] ready", flush=True)
"""

DATALOADER_SHM = r"""
import torch
from torch.utils.data import DataLoader, Dataset
class Big(Dataset):
    def __len__(self): return 64
    def __getitem__(self, i): return torch.randn(4096, 1024)
if __name__ == "__main__":
    for i, batch in enumerate(DataLoader(Big(), batch_size=8, num_workers=2)):
        print("batch", i, tuple(batch.shape), flush=True)
"""

MAX_WORKERS = r"""
import torch
from concurrent.futures import ProcessPoolExecutor
n = torch.cuda.device_count()
print(f"[TRT-LLM-style launcher] spawning one worker per visible GPU: {n}", flush=True)
with ProcessPoolExecutor(max_workers=n) as pool:
    print(list(pool.map(abs, range(n))))
"""

TRAIN_WARNINGS = r"""
import warnings, torch
warnings.warn("`torch_dtype` is deprecated! Use `dtype` instead!", FutureWarning)
m = torch.nn.Linear(1024, 1024).cuda().half()
opt = torch.optim.SGD(m.parameters(), lr=1e-3)
for step in range(20):
    x = torch.randn(64, 1024, device="cuda", dtype=torch.half)
    loss = m(x).float().pow(2).mean()
    loss.backward(); opt.step(); opt.zero_grad()
    if step % 5 == 0:
        print(f"step {step} loss {loss.item():.4f} mem {torch.cuda.memory_allocated() / 2**20:.1f} MiB", flush=True)
warnings.warn("The given NumPy array is not writable, and PyTorch does not support non-writable tensors.", UserWarning)
print("training finished: 20 steps, 0 errors")
"""


def _wheel(dirpath: Path, name: str, version: str, requires: list[str]) -> None:
    """A minimal valid wheel (metadata only), to give pip's resolver something real to chew on."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
            name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)),
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: faultlab\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    path = dirpath / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for fn, body in files.items():
            z.writestr(fn, body)
            digest = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
            record.append(f"{fn},sha256={digest},{len(body)}")
        record.append(f"{dist}/RECORD,,")
        z.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")


def cases() -> list[Case]:
    py = PY
    ext = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    c: list[Case] = []
    add = c.append

    # --- GPU memory -------------------------------------------------------------------------
    add(Case("torch-oom-weights", "runtime-oom", "allocate 200 GiB on a 141 GB H200 with torch",
             f"{py} -c \"import torch; print('loading 200 GiB of weights'); w = torch.empty(200 * 2**30, dtype=torch.uint8, device='cuda')\"",
             needs=("torch",)))
    add(Case("torch-oom-fraction", "runtime-oom", "torch memory fraction capped at 2% then 8 GiB allocated",
             f"{py} -c \"import torch; torch.cuda.set_per_process_memory_fraction(0.02); a = torch.empty(8 * 2**30, dtype=torch.uint8, device='cuda')\"",
             needs=("torch",)))
    add(Case("cupy-oom", "runtime-oom", "cupy allocates 300 GB",
             f"{py} -c \"import cupy as cp; x = cp.zeros((300 * 10**9,), dtype=cp.uint8)\"", needs=("cupy",)))
    add(Case("cudart-oom-cpp", "runtime-oom", "CUDA C++ program cudaMalloc of 400 GB",
             "nvcc -O2 -o k kernel.cu && ./k 400000000000", files={"kernel.cu": KERNEL_CU}, needs=("nvcc",)))

    # --- CUDA kernel faults -------------------------------------------------------------------
    add(Case("cupy-illegal-address", "cuda-kernel-fault", "a kernel writes through a wild pointer",
             f"{py} bad.py", files={"bad.py": textwrap.dedent("""
                 import cupy as cp
                 k = cp.RawKernel(r'''extern "C" __global__ void w(float* p) { p[(size_t)threadIdx.x * 1099511627ULL] = 1.f; }''', "w")
                 x = cp.zeros(16, dtype=cp.float32)
                 k((1,), (64,), (x,))
                 cp.cuda.Device().synchronize()
                 print(x)
             """)}, needs=("cupy",)))
    add(Case("torch-illegal-address", "cuda-kernel-fault", "a custom kernel corrupts memory; torch reports it at the next sync",
             f"{py} bad.py", files={"bad.py": textwrap.dedent("""
                 import torch, cupy as cp
                 x = torch.zeros(1024, device="cuda")
                 k = cp.RawKernel(r'''extern "C" __global__ void w(float* p) { p[-(long long)(threadIdx.x + 1) * 1000000007LL] = 3.f; }''', "w")
                 k((4,), (128,), (x.data_ptr(),))
                 y = x * 2
                 print(y.sum().item())
             """)}, needs=("cupy", "torch")))
    add(Case("torch-device-assert-embedding", "cuda-device-assert", "token id 50000 looked up in a 32000-row embedding on the GPU",
             f"{py} emb.py", files={"emb.py": textwrap.dedent("""
                 import torch
                 emb = torch.nn.Embedding(32000, 512).cuda()
                 ids = torch.tensor([[1, 15043, 50000, 2]], device="cuda")
                 out = emb(ids)
                 print(out.float().norm().item())
             """)}, needs=("torch",)))
    add(Case("mpi-device-assert-tagged", "cuda-device-assert", "same out-of-range index under mpirun --tag-output (2 ranks, one GPU)",
             f"mpirun --allow-run-as-root --tag-output -n 2 {py} emb.py", files={"emb.py": textwrap.dedent("""
                 import torch
                 from mpi4py import MPI
                 r = MPI.COMM_WORLD.Get_rank()
                 labels = torch.tensor([3, 7, 1 if r == 0 else 9], device="cuda")
                 logits = torch.randn(3, 8, device="cuda")
                 print("loss", torch.nn.functional.cross_entropy(logits, labels).item(), flush=True)
             """)}, needs=("mpirun", "torch", "mpi4py")))
    add(Case("torch-invalid-device-ordinal", "cuda-invalid-device", "cuda:3 used on a machine with one GPU (rank-to-device mapping)",
             f"{py} -c \"import torch; local_rank = 3; torch.cuda.set_device(local_rank); print(torch.zeros(1, device='cuda'))\"",
             needs=("torch",)))
    add(Case("nvcc-no-kernel-image", "gpu-arch-unsupported", "CUDA C++ built only for sm_80 run on an SM 9.0 GPU",
             "nvcc -O2 -gencode arch=compute_80,code=sm_80 -o k kernel.cu && ./k", files={"kernel.cu": KERNEL_CU}, needs=("nvcc",)))
    add(Case("cupy-no-binary-for-gpu", "gpu-arch-unsupported", "a cubin for sm_80 loaded with the driver API on SM 9.0",
             f"nvcc -cubin -arch=sm_80 -o k.cubin k.cu && {py} load.py", files={
                 "k.cu": 'extern "C" __global__ void k(float* p) { p[threadIdx.x] = 1.f; }\n',
                 "load.py": "import cupy as cp\nm = cp.RawModule(path='k.cubin')\nf = m.get_function('k')\nprint(f)\n"},
             needs=("nvcc", "cupy")))
    add(Case("nvcc-launch-config", "cuda-launch-resources", "a kernel launched with 2048 threads per block",
             "nvcc -O2 -o k kernel.cu && ./k 4194304 2048", files={"kernel.cu": KERNEL_CU}, needs=("nvcc",)))

    # --- GPU visibility -----------------------------------------------------------------------
    add(Case("torch-no-gpu-visible", "gpu-not-visible", "CUDA_VISIBLE_DEVICES='' (a container started without GPUs looks the same)",
             f"{py} -c \"import torch; print('cuda available:', torch.cuda.is_available()); x = torch.zeros(1, device='cuda')\"",
             env={"CUDA_VISIBLE_DEVICES": ""}, needs=("torch",)))
    add(Case("max-workers-no-gpu", "gpu-not-visible", "CUDA_VISIBLE_DEVICES='' under a launcher that spawns one worker per GPU",
             f"{py} launch.py", files={"launch.py": MAX_WORKERS}, env={"CUDA_VISIBLE_DEVICES": ""}, needs=("torch",)))
    add(Case("cuda-bindings-no-device", "gpu-not-visible", "CUDA_VISIBLE_DEVICES=-1 with cuda-python",
             f"{py} probe.py", files={"probe.py": textwrap.dedent("""
                 from cuda.bindings import runtime as rt
                 err, n = rt.cudaGetDeviceCount()
                 if err != rt.cudaError_t.cudaSuccess:
                     raise RuntimeError(f"cudaGetDeviceCount failed: {err.name}: {rt.cudaGetErrorString(err)[1].decode()}")
                 print("GPUs:", n)
             """)}, env={"CUDA_VISIBLE_DEVICES": "-1"}, needs=("cuda.bindings",)))

    # --- NCCL / torch.distributed ----------------------------------------------------------------
    add(Case("nccl-duplicate-gpu", "gpu-shared-by-ranks", "torchrun with 2 ranks that both pick cuda:0",
             f"torchrun --nproc_per_node 2 --master_port 29531 ar.py", files={"ar.py": DIST_ALLREDUCE},
             env={"NCCL_DEBUG": "WARN", "FORCE_DEVICE": "0"}, needs=("torchrun", "torch"), timeout=120))
    add(Case("nccl-socket-ifname", "nccl-network-config", "NCCL_SOCKET_IFNAME names an interface that does not exist",
             f"torchrun --nproc_per_node 1 --master_port 29532 ar.py", files={"ar.py": DIST_ALLREDUCE},
             env={"NCCL_DEBUG": "WARN", "NCCL_SOCKET_IFNAME": "ens9f7np0"}, needs=("torchrun", "torch"), timeout=120))
    add(Case("nccl-ib-hca", "nccl-ib-error", "NCCL forced onto InfiniBand (NCCL_NET=IB) on a host without an HCA",
             f"torchrun --nproc_per_node 1 --master_port 29533 ar.py", files={"ar.py": DIST_ALLREDUCE},
             env={"NCCL_DEBUG": "WARN", "NCCL_NET": "IB", "NCCL_IB_HCA": "mlx5_0"}, needs=("torchrun", "torch"), timeout=120))
    add(Case("dist-store-timeout", "dist-rendezvous-failed", "rank 0 of 2 waits for a rank that is never started",
             f"{py} -c \"import datetime, torch.distributed as dist; dist.init_process_group('gloo', init_method='tcp://127.0.0.1:29541', rank=0, world_size=2, timeout=datetime.timedelta(seconds=10))\"",
             needs=("torch",), timeout=60))
    add(Case("dist-connect-timeout", "dist-rendezvous-failed", "rank 1 dials a master address where nothing listens",
             f"{py} -c \"import datetime, torch.distributed as dist; dist.init_process_group('nccl', init_method='tcp://127.0.0.1:29599', rank=1, world_size=2, timeout=datetime.timedelta(seconds=10))\"",
             needs=("torch",), timeout=60))
    add(Case("dist-master-addr-unset", "dist-rendezvous-failed", "env:// rendezvous without MASTER_ADDR",
             f"{py} -c \"import torch.distributed as dist; dist.init_process_group('nccl', init_method='env://', rank=0, world_size=1)\"",
             env={"MASTER_ADDR": "", "MASTER_PORT": ""}, needs=("torch",)))
    add(Case("dist-port-in-use", "dist-rendezvous-failed", "torchrun's master port 29550 already taken by another process",
             f"({py} -c \"import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 29550)); s.listen(); time.sleep(60)\" &) ; sleep 2; torchrun --nproc_per_node 1 --master_port 29550 ar.py",
             files={"ar.py": DIST_ALLREDUCE}, needs=("torchrun", "torch"), timeout=90))
    add(Case("gloo-collective-timeout", "collective-timeout", "rank 1 stalls 40 s before an all_reduce with a 10 s timeout",
             f"torchrun --nproc_per_node 2 --master_port 29552 slow.py", files={"slow.py": GLOO_TIMEOUT},
             needs=("torchrun", "torch"), timeout=120))

    # --- MPI ------------------------------------------------------------------------------------
    add(Case("mpirun-as-root", "mpi-run-as-root", "mpirun started as root without --allow-run-as-root",
             f"mpirun -n 2 {py} -c \"print('hello')\"", needs=("mpirun",)))
    add(Case("mpirun-not-enough-slots", "mpi-not-enough-slots", "mpirun -n 64 on a 16-core node without --oversubscribe",
             f"mpirun --allow-run-as-root -n 64 {py} -c \"print('hello')\"", needs=("mpirun",)))
    add(Case("mpirun-rank-oom-abort", "runtime-oom", "rank 1 runs out of GPU memory while loading and calls MPI_Abort",
             f"mpirun --allow-run-as-root -n 2 {py} load.py", files={"load.py": MPI_OOM_ABORT},
             needs=("mpirun", "mpi4py", "torch"), timeout=120, also=("mpi-failure",)))
    add(Case("mpirun-rank-segfault", "process-crashed", "a rank dereferences NULL under mpirun",
             f"mpirun --allow-run-as-root -n 2 {py} -X faulthandler -c \"import ctypes; ctypes.string_at(0)\"", needs=("mpirun",)))
    add(Case("mpirun-trtllm-serve-missing", "trtllm-not-installed", "mpirun of trtllm-serve where TensorRT-LLM is not installed",
             "mpirun --allow-run-as-root -n 1 trtllm-serve meta-llama/Llama-3.1-8B-Instruct --tp_size 1", needs=("mpirun",)))

    # --- Python packages, loader --------------------------------------------------------------
    add(Case("import-tensorrt-llm", "trtllm-not-installed", "an LLM API script in a Python without tensorrt_llm",
             f"{py} serve.py", files={"serve.py": "from tensorrt_llm import LLM, SamplingParams\nllm = LLM(model='Qwen/Qwen3-8B')\n"}))
    add(Case("trtllm-serve-command-missing", "trtllm-not-installed", "trtllm-serve run in a shell where it is not installed",
             "trtllm-serve Qwen/Qwen3-8B --extra_llm_api_options config.yaml"))
    add(Case("import-modelopt-missing", "module-not-found", "quantize script needs nvidia-modelopt, which is absent",
             f"{py} quant.py", files={"quant.py": "import torch\nimport modelopt.torch.quantization as mtq\nprint(mtq)\n"}))
    add(Case("undefined-symbol-c10", "torch-abi-mismatch", "a torch C++ extension referencing a c10 function this torch does not have",
             f"g++ -O1 -shared -fPIC -o fused_ops{ext} ext.cpp && {py} -c \"import torch, fused_ops; fused_ops.run()\"",
             files={"ext.cpp": EXT_CPP % {"ns": "c10::cuda", "fn": "warn_or_error_on_sync_removed", "mod": "fused_ops"}},
             needs=("g++", "torch")))
    add(Case("undefined-symbol-tensorrt-llm", "trtllm-bindings-mismatch", "a bindings module referencing a tensorrt_llm::runtime symbol from another release",
             f"g++ -O1 -shared -fPIC -o bindings{ext} ext.cpp && {py} -c \"import bindings\"",
             files={"ext.cpp": EXT_CPP % {"ns": "tensorrt_llm::runtime", "fn": "setPeerAccessLegacy", "mod": "bindings"}},
             needs=("g++",)))
    add(Case("glibc-version-not-found", "glibc-too-old", "an extension whose version need was rewritten to GLIBC_2.41 (this host has 2.39)",
             f"g++ -O1 -shared -fPIC -o fastjson{ext} ext.cpp && {py} patch.py fastjson*.so && {py} -c \"import fastjson\"",
             files={"ext.cpp": GLIBC_CPP,
                    "patch.py": textwrap.dedent("""
                        import sys
                        p = sys.argv[1]
                        data = bytearray(open(p, "rb").read())
                        old = b"GLIBC_2.2.5\\x00"
                        i = data.find(old)
                        assert i > 0, "no GLIBC_2.2.5 version need"
                        data[i:i + len(old)] = b"GLIBC_2.41\\x00\\x00"
                        open(p, "wb").write(bytes(data))
                    """)},
             needs=("g++",)))
    add(Case("numpy-abi-pandas", "numpy-abi-mismatch", "pandas 2.1.4 (built against NumPy 1.x) imported under NumPy 2.x",
             f"{py} -m pip install -q --no-index --no-deps --target np1site $WHL/pandas-2.1.4-*.whl $WHL/pytz-*.whl $WHL/tzdata-*.whl && PYTHONPATH=np1site {py} -c \"import pandas as pd; print(pd.DataFrame({{'a': [1]}}))\"",
             needs=("WHL:pandas-2.1.4",)))
    add(Case("libmpi-missing", "missing-shared-library", "libmpi.so.40 removed, then mpi4py imported",
             f"{py} -c \"from mpi4py import MPI; print(MPI.Get_library_version())\"", needs=("mpi4py", "LIB:libmpi.so.40")))

    # --- pip --------------------------------------------------------------------------------------
    pipnet = {"PIP_DEFAULT_TIMEOUT": "3", "PIP_RETRIES": "1", "PIP_INDEX_URL": "https://pypi.org/simple", "PIP_EXTRA_INDEX_URL": "",
              "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": ""}
    add(Case("pip-offline-tensorrt-llm", "pip-index-unreachable", "pip install tensorrt_llm==1.2.1 on a host with no network",
             f"{py} -m pip install --no-cache-dir tensorrt_llm==1.2.1", env=pipnet, timeout=120, also=("trtllm-pypi-no-index",)))
    add(Case("pip-dead-proxy", "pip-index-unreachable", "HTTPS_PROXY points at a port where no proxy runs",
             f"{py} -m pip install --no-cache-dir flashinfer-python", env={**pipnet, "HTTPS_PROXY": "http://proxy.corp.example:3128", "HTTP_PROXY": "http://proxy.corp.example:3128"}, timeout=120))
    add(Case("pip-stub-offline", "trtllm-pypi-no-index", "the tensorrt-llm stub sdist from PyPI built offline: it cannot fetch the real wheel from pypi.nvidia.com",
             f"{py} -m venv --system-site-packages v && v/bin/python -m pip install -q --no-index --no-deps $LAB/wheel_stub-*.whl && v/bin/python -m pip install --no-cache-dir --no-build-isolation --no-deps $LAB/tensorrt_llm-1.2.1.tar.gz",
             env={**pipnet, "PIP_NO_INDEX": ""}, needs=("LAB:tensorrt_llm-1.2.1.tar.gz",), timeout=120, also=("pip-index-unreachable",)))
    add(Case("pip-resolution-conflict", "pip-resolution-conflict", "two local wheels with conflicting pins",
             f"{py} mk.py && {py} -m pip install --no-index --find-links wheels --target site trtllm-plugins==1.0 tensorrt-shim==10.9.0",
             files={"mk.py": "from pathlib import Path\nimport sys\nsys.path.insert(0, %r)\nfrom faultlab import _wheel\nd = Path('wheels'); d.mkdir(exist_ok=True)\n_wheel(d, 'trtllm_plugins', '1.0', ['tensorrt-shim==10.14.1'])\n_wheel(d, 'tensorrt_shim', '10.9.0', [])\n_wheel(d, 'tensorrt_shim', '10.14.1', [])\n" % str(Path(__file__).resolve().parent)}))
    add(Case("pip-externally-managed", "pip-externally-managed", "pip install into Ubuntu's system Python (PEP 668)",
             "/usr/bin/python3 -m pip install --no-index nvidia-ml-py", needs=("FILE:/usr/lib/python3*/EXTERNALLY-MANAGED", "EXE:/usr/bin/python3")))

    # --- Hugging Face / transformers --------------------------------------------------------------
    hfnet = {"HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "3", "HF_HOME": "/tmp/faultlab-hf"}
    add(Case("hf-unreachable", "hf-offline", "AutoConfig.from_pretrained of a hub id on a host with no network and an empty cache",
             f"{py} -c \"from transformers import AutoConfig; print(AutoConfig.from_pretrained('meta-llama/Llama-3.1-8B-Instruct'))\"",
             env=hfnet, needs=("transformers",), timeout=120))
    add(Case("hf-offline-mode", "hf-offline", "HF_HUB_OFFLINE=1 with an empty cache",
             f"{py} -c \"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('Qwen/Qwen3-8B')\"",
             env={**hfnet, "HF_HUB_OFFLINE": "1"}, needs=("transformers",)))
    add(Case("hf-hub-download-offline", "hf-offline", "huggingface_hub snapshot_download with no network",
             f"{py} -c \"from huggingface_hub import snapshot_download; snapshot_download('nvidia/Llama-3.1-8B-Instruct-FP8', allow_patterns=['*.json'])\"",
             env=hfnet, needs=("huggingface_hub",), timeout=120))
    add(Case("hf-trust-remote-code", "hf-trust-remote-code", "a local checkpoint with custom code loaded without trust_remote_code",
             f"{py} -c \"from transformers import AutoConfig; print(AutoConfig.from_pretrained('./baichuan2-13b'))\"",
             files={"baichuan2-13b/config.json": json.dumps({"architectures": ["BaichuanForCausalLM"], "auto_map": {
                 "AutoConfig": "configuration_baichuan.BaichuanConfig", "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"},
                 "model_type": "baichuan", "hidden_size": 5120, "num_hidden_layers": 40, "vocab_size": 125696}, indent=2),
                 "baichuan2-13b/configuration_baichuan.py": "from transformers.configuration_utils import PretrainedConfig\nclass BaichuanConfig(PretrainedConfig):\n    model_type = 'baichuan'\n"},
             env={**hfnet, "HF_HUB_OFFLINE": "1"}, needs=("transformers",)))
    add(Case("transformers-unknown-model-type", "transformers-too-old", "a config.json whose model_type this transformers does not know",
             f"{py} -c \"from transformers import AutoConfig; print(AutoConfig.from_pretrained('./qwen4-moe'))\"",
             files={"qwen4-moe/config.json": json.dumps({"architectures": ["Qwen4MoeForCausalLM"], "model_type": "qwen4_moe",
                                                          "hidden_size": 4096, "num_hidden_layers": 48, "vocab_size": 151936}, indent=2)},
             env={**hfnet, "HF_HUB_OFFLINE": "1"}, needs=("transformers",)))
    add(Case("tokenizer-files-missing", "tokenizer-missing", "a model folder with config.json and weights but no tokenizer files",
             f"{py} -c \"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('./llama-3.1-8b')\"",
             files={"llama-3.1-8b/config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                                            "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                                                            "num_key_value_heads": 8, "vocab_size": 128256}, indent=2)},
             env={**hfnet, "HF_HUB_OFFLINE": "1"}, needs=("transformers",)))

    # --- checkpoints, disk, shm, host memory --------------------------------------------------------
    add(Case("safetensors-truncated", "checkpoint-corrupt", "a safetensors shard cut in half (interrupted download)",
             f"{py} -c \"import torch; from safetensors.torch import save_file; save_file({{'w': torch.randn(1024, 1024)}}, 'model-00001-of-00002.safetensors')\" && truncate -s 2000000 model-00001-of-00002.safetensors && {py} -c \"from safetensors.torch import load_file; print(load_file('model-00001-of-00002.safetensors').keys())\"",
             needs=("safetensors", "torch")))
    add(Case("safetensors-header-cut", "checkpoint-corrupt", "a safetensors file cut inside its header",
             f"{py} -c \"import torch; from safetensors.torch import save_file; save_file({{'w': torch.randn(64, 64)}}, 'model.safetensors')\" && truncate -s 40 model.safetensors && {py} -c \"from safetensors import safe_open; f = safe_open('model.safetensors', 'pt'); print(list(f.keys()))\"",
             needs=("safetensors", "torch")))
    add(Case("torch-load-truncated", "checkpoint-corrupt", "a torch.save file truncated",
             f"{py} -c \"import torch; torch.save({{'w': torch.randn(512, 512)}}, 'pytorch_model.bin')\" && truncate -s 300000 pytorch_model.bin && {py} -c \"import torch; sd = torch.load('pytorch_model.bin', map_location='cpu'); print(len(sd))\"",
             needs=("torch",)))
    small = "mkdir -p small && mount -t tmpfs -o size=24m tmpfs small && "
    add(Case("disk-full-torch-save", "disk-full", "torch.save of 64 MB into a 24 MB filesystem",
             f"unshare -m bash -c '{small}{py} -c \"import torch; torch.save({{\\\"w\\\": torch.randn(4096, 4096)}}, \\\"small/ckpt.pt\\\")\"'",
             needs=("torch", "ROOT")))
    add(Case("disk-full-safetensors", "disk-full", "safetensors save_file of 64 MB into a 24 MB filesystem",
             f"unshare -m bash -c '{small}{py} -c \"import torch; from safetensors.torch import save_file; save_file({{\\\"w\\\": torch.randn(4096, 4096)}}, \\\"small/model.safetensors\\\")\"'",
             needs=("torch", "safetensors", "ROOT")))
    add(Case("disk-full-pip-target", "disk-full", "pip install of an 11 MB wheel into a 4 MB filesystem",
             f"unshare -m bash -c 'mkdir -p tiny && mount -t tmpfs -o size=4m tmpfs tiny && {py} -m pip install --no-index --no-deps --target tiny/site $WHL/pandas-2.1.4-*.whl'",
             needs=("ROOT", "WHL:pandas-2.1.4")))
    add(Case("dataloader-tiny-shm", "shm-too-small", "DataLoader workers pass 16 MB batches through a 2 MB /dev/shm",
             f"unshare -m bash -c 'mount -t tmpfs -o size=2m tmpfs /dev/shm && {py} dl.py'", files={"dl.py": DATALOADER_SHM},
             needs=("torch", "ROOT"), timeout=120))
    add(Case("numpy-memoryerror", "host-memory-exhausted", "host allocation of 100 GiB under a 16 GB address-space limit",
             f"ulimit -v 16000000; {py} -c \"import numpy as np; print('packing host buffer'); buf = np.ones((100 * 2**30,), dtype=np.uint8)\""))
    add(Case("cpp-bad-alloc", "host-memory-exhausted", "a C++ loader asks for 512 GiB of host memory under a 12 GB limit",
             "g++ -O1 -o load bad_alloc.cpp && (ulimit -v 12000000; ./load)", files={"bad_alloc.cpp": BAD_ALLOC_CPP}, needs=("g++",)))
    add(Case("cgroup-oom-killed", "host-oom-killed", "a process in a 1 GiB memory cgroup allocates 4 GiB: the kernel OOM killer ends it",
             f"echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; mkdir -p /sys/fs/cgroup/faultlab && echo 1G > /sys/fs/cgroup/faultlab/memory.max && echo 0 > /sys/fs/cgroup/faultlab/memory.swap.max; "
             f"bash -c 'echo $$ > /sys/fs/cgroup/faultlab/cgroup.procs; {py} -c \"import numpy as np; print(\\\"converting checkpoint\\\", flush=True); a = np.ones((4 * 2**30,), dtype=np.uint8); print(a.sum())\"'; echo \"exit code $?\"",
             needs=("FILE:/sys/fs/cgroup/cgroup.controllers", "ROOT")))
    add(Case("python-segfault", "process-crashed", "a NULL dereference in a native call (faulthandler on)",
             f"{py} -X faulthandler -c \"import ctypes; print('calling native code', flush=True); ctypes.string_at(0)\""))

    # --- clean runs (no failure) ------------------------------------------------------------------
    add(Case("clean-nvidia-smi", "none", "nvidia-smi and nvidia-smi topo -m on a healthy node", "nvidia-smi; nvidia-smi topo -m; nvidia-smi -q -d MEMORY,ECC", needs=("nvidia-smi",)))
    add(Case("clean-collect-env", "none", "torch's collect_env on a healthy node", f"{py} -m torch.utils.collect_env", needs=("torch",), timeout=120))
    add(Case("clean-nccl-info", "none", "NCCL_DEBUG=INFO all_reduce that succeeds (1 rank)",
             f"torchrun --nproc_per_node 1 --master_port 29560 ar.py", files={"ar.py": DIST_ALLREDUCE}, env={"NCCL_DEBUG": "INFO"},
             needs=("torchrun", "torch"), timeout=120))
    add(Case("clean-train-warnings", "none", "a short GPU training loop with deprecation warnings", f"{py} train.py", files={"train.py": TRAIN_WARNINGS}, needs=("torch",)))
    add(Case("clean-mpirun-hello", "none", "mpirun of mpi4py hello on 2 ranks", f"mpirun --allow-run-as-root --tag-output -n 2 {py} -c \"from mpi4py import MPI; c = MPI.COMM_WORLD; print('rank', c.Get_rank(), 'of', c.Get_size(), MPI.Get_library_version().splitlines()[0])\"", needs=("mpirun", "mpi4py")))
    add(Case("clean-pip-satisfied", "none", "pip install of packages already present, offline", f"{py} -m pip install --no-index torch numpy transformers; {py} -m pip check || true", env=pipnet))
    add(Case("clean-nvcc-run", "none", "CUDA C++ built for the right arch runs", "nvcc -O2 -arch=sm_90 -o k kernel.cu && ./k && nvcc --version", files={"kernel.cu": KERNEL_CU}, needs=("nvcc",)))
    return c


# --- runner ------------------------------------------------------------------------------------


def _have(need: str) -> bool:
    if need == "ROOT":
        return os.geteuid() == 0
    if need.startswith("WHL:"):
        return bool(glob.glob(os.path.join(os.environ.get("WHL", ".whl"), need[4:] + "*")))
    if need.startswith("LAB:"):
        return bool(glob.glob(os.path.join(os.environ.get("LAB", ".lab"), need[4:] + "*")))
    if need.startswith("FILE:"):
        return bool(glob.glob(need[5:]))
    if need.startswith("EXE:"):
        return os.access(need[4:], os.X_OK)
    if need.startswith("LIB:"):
        return bool(_find_lib(need[4:]))
    if shutil.which(need):
        return True
    try:
        import importlib.util

        return importlib.util.find_spec(need) is not None
    except (ImportError, ValueError):
        return False


def _find_lib(soname: str) -> list[str]:
    pats = [f"/usr/lib/x86_64-linux-gnu/{soname}*", f"/usr/lib/x86_64-linux-gnu/openmpi/lib/{soname}*", f"/usr/lib/{soname}*",
            f"/usr/local/lib/{soname}*", f"/opt/*/lib/{soname}*"]
    return sorted({p for pat in pats for p in glob.glob(pat)})


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("OMPI_ALLOW_RUN_AS_ROOT"):
            env.pop(k)
    env.setdefault("NCCL_NVLS_ENABLE", "0")  # never NVLink multicast on shared hosts
    env["PYTHONUNBUFFERED"] = "1"
    env["TERM"] = "dumb"
    for k, v in extra.items():
        if v == "" and k != "CUDA_VISIBLE_DEVICES":  # "" means unset, except where empty is the fault
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_case(case: Case, out: Path, work: Path) -> dict:
    missing = [n for n in case.needs if not _have(n)]
    rec = {"name": case.name, "cause": case.cause, "fault": case.fault, "cmd": case.cmd}
    if missing:
        rec.update(status="skipped", missing=missing)
        return rec
    d = work / case.name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for rel, body in case.files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
    moved: list[tuple[str, str]] = []
    if "LIB:libmpi.so.40" in case.needs:  # hide it where ldconfig does not look (a lib*.so* name there would be re-linked)
        hide = work / "hidden-libs"
        hide.mkdir(exist_ok=True)
        for p in _find_lib("libmpi.so.40"):
            dst = str(hide / Path(p).name)
            os.rename(p, dst)
            moved.append((dst, p))
    t0 = time.monotonic()
    with open(out / f"{case.name}.log", "wb") as log:
        proc = subprocess.Popen(["bash", "-c", case.cmd], cwd=d, stdout=log, stderr=subprocess.STDOUT,
                                env=_clean_env(case.env), start_new_session=True, stdin=subprocess.DEVNULL)
        try:
            rc = proc.wait(timeout=case.timeout)
            status = "ran"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            status = "timeout"
    for src, dst in reversed(moved):
        os.rename(src, dst)
    if case.name == "cgroup-oom-killed":
        subprocess.run(["rmdir", "/sys/fs/cgroup/faultlab"], check=False)
    rec.update(status=status, rc=rc, seconds=round(time.monotonic() - t0, 2),
               bytes=(out / f"{case.name}.log").stat().st_size)
    return rec


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def write_index(out: Path, recs: list[dict], host: str) -> None:
    lines = ["schema = 1", f"# Real failure logs produced by tools/faultlab.py on {host}, {time.strftime('%Y-%m-%d')}.",
             "# expected_cause = the fault injected (decided before the run). rc = the command's exit status.", ""]
    for r in recs:
        if r["status"] == "skipped":
            continue
        lines += ["[[log]]", f"file = {_toml_str(r['name'] + '.log')}", f"expected_cause = {_toml_str(r['cause'])}"]
        if r.get("also"):
            lines.append(f"also_acceptable = {json.dumps(list(r['also']))}")
        note = f"{r['fault']} (exit {r.get('rc')}, {r.get('seconds')} s{', timed out' if r['status'] == 'timeout' else ''})"
        lines += [f"source = {_toml_str('tools/faultlab.py case ' + r['name'] + ' on ' + host)}",
                  f"note = {_toml_str(note)}", f"command = {_toml_str(r['cmd'])}", ""]
    (out / "INDEX.toml").write_text("\n".join(lines))


# --- error strings of the libraries on this machine ---------------------------------------------------


def dump_strings(path: Path) -> None:
    import ctypes

    out: dict[str, dict[str, list[str]]] = {}

    def libs(pattern: str) -> list[str]:
        found = []
        for base in sys.path + ["/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64"]:
            found += glob.glob(os.path.join(base, pattern)) + glob.glob(os.path.join(base, "nvidia", "*", "lib", pattern))
        return sorted(set(found))

    try:
        from cuda.bindings import driver, nvrtc, runtime

        driver.cuInit(0)
        out["cuda_runtime"] = {}
        for e in runtime.cudaError_t:
            _, name = runtime.cudaGetErrorName(e)
            _, s = runtime.cudaGetErrorString(e)
            out["cuda_runtime"][str(int(e))] = [name.decode(), s.decode()]
        out["cuda_driver"] = {}
        for e in driver.CUresult:
            err, name = driver.cuGetErrorName(e)
            err2, s = driver.cuGetErrorString(e)
            out["cuda_driver"][str(int(e))] = [name.decode() if name else e.name, s.decode() if s else ""]
        out["nvrtc"] = {str(int(e)): [e.name, nvrtc.nvrtcGetErrorString(e)[1].decode()] for e in nvrtc.nvrtcResult}
    except Exception as exc:  # record why, keep going
        out["cuda_error"] = {"0": [type(exc).__name__, str(exc)]}
    for key, pat, fname, nrange in (("cublas", "libcublas.so*", "cublasGetStatusString", range(0, 20)),
                                     ("cudnn", "libcudnn.so*", "cudnnGetErrorString", range(0, 6000)),
                                     ("nccl", "libnccl.so*", "ncclGetErrorString", range(0, 12))):
        for lib in libs(pat):
            try:
                h = ctypes.CDLL(lib)
                fn = getattr(h, fname)
                fn.restype = ctypes.c_char_p
                fn.argtypes = [ctypes.c_int]
                table = {}
                for i in nrange:
                    s = fn(i)
                    if s:
                        table[str(i)] = ["", s.decode(errors="replace")]
                if key == "cublas" and hasattr(h, "cublasGetStatusName"):
                    h.cublasGetStatusName.restype = ctypes.c_char_p
                    h.cublasGetStatusName.argtypes = [ctypes.c_int]
                    for i in table:
                        table[i][0] = h.cublasGetStatusName(int(i)).decode()
                if key == "nccl" and hasattr(h, "ncclGetVersion"):
                    v = ctypes.c_int()
                    h.ncclGetVersion(ctypes.byref(v))
                    table["version"] = [str(v.value), lib]
                out[key] = table
                out.setdefault("libraries", {})[key] = [lib, ""]
                break
            except OSError as exc:
                out.setdefault("load_errors", {})[lib] = [type(exc).__name__, str(exc)]
    path.write_text(json.dumps(out, indent=1, sort_keys=True))
    print(f"wrote {path}: " + ", ".join(f"{k} {len(v)}" for k, v in out.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--dump-strings", type=Path)
    args = ap.parse_args()
    if args.dump_strings:
        dump_strings(args.dump_strings)
        return 0
    todo = cases()
    if args.list:
        for c in todo:
            print(f"{c.name:34} {c.cause:26} {c.fault}")
        return 0
    if not args.out:
        ap.error("--out is required")
    only = {s for s in args.only.split(",") if s}
    skip = {s for s in args.skip.split(",") if s}
    todo = [c for c in todo if (not only or c.name in only) and c.name not in skip]
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/faultlab")
    work.mkdir(exist_ok=True)
    recs = []
    for c in todo:
        r = run_case(c, args.out, work)
        r["also"] = list(c.also)
        recs.append(r)
        print(f"{c.name:34} {r['status']:8} rc={r.get('rc')} {r.get('seconds', '')}s {r.get('missing', '')}", flush=True)
    host = os.uname().nodename
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=10).stdout.strip()
        host = f"{gpu} ({host})"
    except (OSError, subprocess.SubprocessError):
        pass
    write_index(args.out, recs, host)
    (args.out / "runs.json").write_text(json.dumps(recs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
