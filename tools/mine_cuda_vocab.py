#!/usr/bin/env python3
"""Regenerate the CUDA-family error vocabularies (rules/vocab/*.toml) from upstream headers and libraries.

Writes six files: cuda-runtime.toml (cudaError_t), cuda-driver.toml (CUresult), nvrtc.toml (nvrtcResult),
cublas.toml (cublasStatus_t), cudnn.toml (cudnnStatus_t) and xid.toml (NVIDIA driver Xid codes).

Inputs (all optional except that a vocabulary is only written when its source is given):

  --runtime-header LABEL=PATH   driver_types.h of a CUDA release (repeatable; the FIRST one is the primary
                                release named in the file; the others add values that only older/newer
                                releases have). Default: 13.0=/usr/local/cuda/include/driver_types.h
  --runtime-lib LABEL=PATH      libcudart.so.* to read cudaGetErrorString() from (repeatable, same labels).
                                Default: 13.0=/usr/local/cuda/lib64/libcudart.so.13
  --driver-header LABEL=PATH    cuda.h (enum cudaError_enum). Default: 13.0=/usr/local/cuda/include/cuda.h
  --driver-lib LABEL=PATH       libcuda.so.1 (cuGetErrorString); usually absent on a build machine: use --strings
  --nvrtc-header/--nvrtc-lib    nvrtc.h / libnvrtc.so.*
  --cublas-header/--cublas-lib  cublas_api.h / libcublas.so.* (libcublasLt and libcudart next to it are preloaded)
  --cudnn-header/--cudnn-lib    cudnn_graph.h (cuDNN 9) or cudnn_ops_infer.h/cudnn.h (cuDNN 8) / libcudnn.so.*
  --xid-catalog PATH            NVIDIA's Xid catalogue (docs.nvidia.com/deploy/xid-errors): a CSV export of the
                                spreadsheet (columns Code, Mnemonic, Description, Resolution Bucket ...), a JSON
                                list of {code, mnemonic, description, immediate, investigatory}, or the Go table
                                generated from it by leptonai/gpud
                                (components/accelerator/nvidia/xid/catalog_generated.go)
  --nverror PATH                nverror.h of NVIDIA/open-gpu-kernel-modules (src/common/sdk/nvidia/inc/): adds
                                Xid codes newer than the catalogue and cross-checks mnemonics
  --strings FILE                error-strings JSON written by --dump-strings on a machine with a GPU driver:
                                {"cuda_driver": {"<code>": ["<name>", "<string>"]}, "cuda_runtime": {...}, ...}
  --out DIR                     where to write (default: rules/vocab of this repository)
  --only ID                     write only this vocabulary (repeatable)
  --preload PATH                load a library RTLD_GLOBAL first (e.g. the libcudart.so.12 libcublas.so.12 needs)

Every enumerated name must have an entry in the curated mapping tables below (name -> cause, role): a name
the tables do not know makes the script exit with status 2 and list it, so a new CUDA release forces a
decision. Stale table rows (names no source has) are reported as warnings.

  --dump-strings OUT.json [--lib KIND=PATH ...]
        Load whatever of libcuda.so.1, libcudart.so.*, libnvrtc.so.*, libcublas.so.*, libcudnn.so.*, libnccl.so.*
        this machine has (ctypes.util, the nvidia-* wheels in site-packages, /usr/local/cuda), loop over the
        numeric range of each enum and write the JSON above (plus "_meta" with the libraries used). KIND is
        one of cuda_driver, cuda_runtime, nvrtc, cublas, cudnn, nccl. Needs no GPU; absent libraries are skipped.

Example: the invocation that produced the committed files. The inputs are the CUDA 13.0 toolkit in
/usr/local/cuda plus these wheels (pip download --no-deps, unpacked under $X): nvidia-cuda-runtime 13.5.37,
nvidia-cuda-runtime-cu12 12.9.79, nvidia-cuda-runtime-cu11 11.8.89, nvidia-cuda-nvrtc 13.0.88 / 13.5.37,
nvidia-cuda-nvrtc-cu12 12.9.86, nvidia-cuda-nvrtc-cu11 11.8.89, nvidia-cublas 13.10.0.20, nvidia-cublas-cu12
12.9.3.13, nvidia-cudnn-cu13 9.28.1.4, nvidia-cudnn-cu12 9.28.0.42; $S holds the Xid catalogue table
(leptonai/gpud@4a8de33 components/accelerator/nvidia/xid/catalog_generated.go) and nverror.h of
NVIDIA/open-gpu-kernel-modules 595.45.04. Add --strings error-strings.json once a device run has written it.

  X=/work/scratch/vocab-cuda/x S=/work/scratch/vocab-cuda
  python3 tools/mine_cuda_vocab.py \\
    --preload $X/nvidia_cuda_runtime_cu12-12.9.79/nvidia/cuda_runtime/lib/libcudart.so.12 \\
    --runtime-header 13.0=/usr/local/cuda/include/driver_types.h \\
    --runtime-header 13.5=$X/nvidia_cuda_runtime-13.5.37/nvidia/cu13/include/driver_types.h \\
    --runtime-header 12.9=$X/nvidia_cuda_runtime_cu12-12.9.79/nvidia/cuda_runtime/include/driver_types.h \\
    --runtime-header 11.8=$X/nvidia_cuda_runtime_cu11-11.8.89/nvidia/cuda_runtime/include/driver_types.h \\
    --runtime-lib 13.0=/usr/local/cuda/lib64/libcudart.so.13 \\
    --runtime-lib 13.5=$X/nvidia_cuda_runtime-13.5.37/nvidia/cu13/lib/libcudart.so.13 \\
    --runtime-lib 12.9=$X/nvidia_cuda_runtime_cu12-12.9.79/nvidia/cuda_runtime/lib/libcudart.so.12 \\
    --runtime-lib 11.8=$X/nvidia_cuda_runtime_cu11-11.8.89/nvidia/cuda_runtime/lib/libcudart.so.11.0 \\
    --driver-header 13.0=/usr/local/cuda/include/cuda.h \\
    --driver-header 13.5=$X/nvidia_cuda_runtime-13.5.37/nvidia/cu13/include/cuda.h \\
    --driver-header 12.9=$X/nvidia_cuda_runtime_cu12-12.9.79/nvidia/cuda_runtime/include/cuda.h \\
    --driver-header 11.8=$X/nvidia_cuda_runtime_cu11-11.8.89/nvidia/cuda_runtime/include/cuda.h \\
    --nvrtc-header 13.0=$X/nvidia_cuda_nvrtc-13.0.88/nvidia/cu13/include/nvrtc.h \\
    --nvrtc-header 13.5=$X/nvidia_cuda_nvrtc-13.5.37/nvidia/cu13/include/nvrtc.h \\
    --nvrtc-header 12.9=$X/nvidia_cuda_nvrtc_cu12-12.9.86/nvidia/cuda_nvrtc/include/nvrtc.h \\
    --nvrtc-header 11.8=$X/nvidia_cuda_nvrtc_cu11-11.8.89/nvidia/cuda_nvrtc/include/nvrtc.h \\
    --nvrtc-lib 13.0=$X/nvidia_cuda_nvrtc-13.0.88/nvidia/cu13/lib/libnvrtc.so.13 \\
    --nvrtc-lib 13.5=$X/nvidia_cuda_nvrtc-13.5.37/nvidia/cu13/lib/libnvrtc.so.13 \\
    --cublas-header 13.10=$X/nvidia_cublas-13.10.0.20/nvidia/cu13/include/cublas_api.h \\
    --cublas-header 12.9=$X/nvidia_cublas_cu12-12.9.3.13/nvidia/cublas/include/cublas_api.h \\
    --cublas-lib 13.10=$X/nvidia_cublas-13.10.0.20/nvidia/cu13/lib/libcublas.so.13 \\
    --cublas-lib 12.9=$X/nvidia_cublas_cu12-12.9.3.13/nvidia/cublas/lib/libcublas.so.12 \\
    --cudnn-header 9.28.1=$X/nvidia_cudnn_cu13-9.28.1.4/nvidia/cudnn/include/cudnn_graph.h \\
    --cudnn-header 9.28.0-cu12=$X/nvidia_cudnn_cu12-9.28.0.42/nvidia/cudnn/include/cudnn_graph.h \\
    --cudnn-lib 9.28.0-cu12=$X/nvidia_cudnn_cu12-9.28.0.42/nvidia/cudnn/lib/libcudnn.so.9 \\
    --xid-catalog $S/gpud-catalog_generated.go \\
    --nverror $S/nverror-595.45.04.h

Python 3.10+, standard library only.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import ctypes.util
import glob
import json
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED_BY = "tools/mine_cuda_vocab.py"

# ----------------------------------------------------------------------------------------------------------
# Curated mapping: enum name -> (cause, role, severity, note).  Notes are ours, not upstream documentation.
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class M:
    cause: str
    note: str = ""
    role: str = "root"
    severity: str | None = None

    def sev(self) -> str:
        if self.severity:
            return self.severity
        return "info" if self.role == "benign" else "error"


API = "cuda-api-misuse"
KF = "cuda-kernel-fault"
HW = "gpu-hardware-error"
OK = M("none", "Success: not an error.", role="benign")
MISUSE = M(API)
PROFILER = M(API, "Profiler control call in the wrong state; harmless for inference.", severity="warning")
CAPTURE = M(API, "CUDA graph stream-capture rule broken by the calling library (or a call made while "
                 "another thread captures); a bug or unsupported combination, not the environment.")
MPS = M("mps-error", "CUDA MPS (multi-process service) problem: check the nvidia-cuda-mps-control daemon, "
                     "its client limits and that server and clients use the same driver.")

_RT = {
    "Success": OK,
    "InvalidValue": M(API, "A CUDA call got an invalid argument: a bug or unsupported input in the library "
                           "that made the call, unless an earlier error already broke the context."),
    "MemoryAllocation": M("runtime-oom", "The GPU had no free memory left for the allocation."),
    "InitializationError": M("gpu-not-visible", "CUDA could not initialise: no usable driver/GPU in this "
                             "process (driver not loaded, device nodes missing in the container, or CUDA "
                             "first used in a forked child of a process that had already initialised it)."),
    "CudartUnloading": M("unknown-failure", "The CUDA runtime/driver is being torn down (process exit): a "
                         "symptom of an earlier failure, or of exiting with GPU work pending.",
                         role="consequence", severity="warning"),
    "ProfilerDisabled": PROFILER, "ProfilerNotInitialized": PROFILER,
    "ProfilerAlreadyStarted": PROFILER, "ProfilerAlreadyStopped": PROFILER,
    "InvalidConfiguration": M("cuda-launch-resources", "A kernel launch asked for a grid/block/shared-memory "
                              "configuration this GPU does not allow."),
    "InvalidPitchValue": MISUSE, "InvalidSymbol": MISUSE, "InvalidHostPointer": MISUSE,
    "InvalidDevicePointer": MISUSE, "InvalidTexture": MISUSE, "InvalidTextureBinding": MISUSE,
    "InvalidChannelDescriptor": MISUSE, "InvalidMemcpyDirection": MISUSE, "AddressOfConstant": MISUSE,
    "TextureFetchFailed": MISUSE, "TextureNotBound": MISUSE, "SynchronizationError": MISUSE,
    "InvalidFilterSetting": MISUSE, "InvalidNormSetting": MISUSE, "MixedDeviceExecution": MISUSE,
    "NotYetImplemented": MISUSE, "MemoryValueTooLarge": MISUSE,
    "StubLibrary": M("driver-missing", "The process loaded the stub libcuda.so shipped with the CUDA toolkit "
                     "(lib64/stubs) instead of the driver's libcuda.so.1: there is no driver in this host or "
                     "container, or the stubs directory is on LD_LIBRARY_PATH ahead of the real library."),
    "InsufficientDriver": M("driver-too-old", "The installed NVIDIA driver is older than the CUDA runtime the "
                            "program was built with (upgrade the driver or use a build for an older CUDA)."),
    "CallRequiresNewerDriver": M("driver-too-old", "The program uses an API the installed driver does not "
                                 "implement yet: upgrade the driver."),
    "InvalidSurface": MISUSE, "DuplicateVariableName": MISUSE, "DuplicateTextureName": MISUSE,
    "DuplicateSurfaceName": MISUSE,
    "DevicesUnavailable": M("gpu-busy-or-unavailable", "The GPU is in exclusive-process (or prohibited) "
                            "compute mode and already in use by another process, or otherwise unavailable."),
    "IncompatibleDriverContext": MISUSE, "MissingConfiguration": MISUSE,
    "PriorLaunchFailure": M(KF, "Legacy form of a kernel fault reported on a later call."),
    "LaunchMaxDepthExceeded": MISUSE, "LaunchFileScopedTex": MISUSE, "LaunchFileScopedSurf": MISUSE,
    "SyncDepthExceeded": MISUSE, "LaunchPendingCountExceeded": MISUSE,
    "InvalidDeviceFunction": M("gpu-arch-unsupported", "The kernel is not in the binary for this GPU: it was "
                               "compiled for other SM architectures."),
    "NoDevice": M("gpu-not-visible", "No GPU is visible to the process (CUDA_VISIBLE_DEVICES, container "
                  "started without GPUs, driver not loaded)."),
    "InvalidDevice": M("cuda-invalid-device", "A device index beyond the GPUs visible to the process."),
    "DeviceNotLicensed": M("unknown-failure", "A vGPU without a valid NVIDIA license. "
                           "proposed = \"vgpu-license-invalid: the vGPU guest has no valid license\""),
    "SoftwareValidityNotEstablished": M("cuda-unknown-error", "CUDA's start-up self checks failed: driver or "
                                        "GPU state problem."),
    "StartupFailure": M("cuda-unknown-error", "The runtime failed during start-up: usually a broken driver "
                        "installation or GPU state."),
    "InvalidKernelImage": M("gpu-arch-unsupported", "The kernel image cannot be loaded on this GPU: built for "
                            "another architecture (or corrupt)."),
    "DeviceUninitialized": M(API, "Invalid or destroyed CUDA context used."),
    "MapBufferObjectFailed": MISUSE, "UnmapBufferObjectFailed": MISUSE, "ArrayIsMapped": MISUSE,
    "AlreadyMapped": MISUSE,
    "NoKernelImageForDevice": M("gpu-arch-unsupported", "The binary has no kernel (SASS or compatible PTX) for "
                                "this GPU's SM architecture: install a build that supports this GPU."),
    "AlreadyAcquired": MISUSE, "NotMapped": MISUSE, "NotMappedAsArray": MISUSE, "NotMappedAsPointer": MISUSE,
    "ECCUncorrectable": M(HW, "Uncorrectable ECC memory error on the GPU: see dmesg for Xid 48/94/95; the "
                          "GPU needs a reset and may need replacement."),
    "UnsupportedLimit": MISUSE,
    "DeviceAlreadyInUse": M("gpu-busy-or-unavailable", "The GPU is in exclusive-thread/process mode and "
                            "already used."),
    "PeerAccessUnsupported": M("no-p2p-access", "The two GPUs cannot access each other's memory directly "
                               "(no P2P over NVLink/PCIe between them)."),
    "InvalidPtx": M("gpu-arch-unsupported", "JIT compilation of the PTX in the binary failed on this GPU/driver "
                    "(PTX for features this GPU lacks, or a driver too old for it)."),
    "InvalidGraphicsContext": MISUSE,
    "NvlinkUncorrectable": M(HW, "Uncorrectable NVLink error: see dmesg for Xid 74 and the fabric logs."),
    "JitCompilerNotFound": M("missing-shared-library", "The driver's PTX JIT library "
                             "(libnvidia-ptxjitcompiler.so) could not be loaded: incomplete driver install, "
                             "or a container that does not mount it."),
    "UnsupportedPtxVersion": M("driver-too-old", "The PTX was produced by a newer CUDA toolkit than the "
                               "driver's JIT understands: upgrade the driver."),
    "JitCompilationDisabled": M("gpu-arch-unsupported", "No SASS for this GPU and PTX JIT is disabled "
                                "(e.g. CUDA_DISABLE_PTX_JIT=1)."),
    "UnsupportedExecAffinity": MISUSE, "UnsupportedDevSideSync": MISUSE,
    "Contained": M(HW, "A contained hardware error or invalid peer access over NVLink killed the context; "
                   "see dmesg for Xid 94/95."),
    "InvalidSource": M("gpu-arch-unsupported", "Invalid kernel image/source (the runtime prints the same "
                       "string as the invalid-kernel-image error)."),
    "FileNotFound": MISUSE, "SharedObjectSymbolNotFound": MISUSE, "SharedObjectInitFailed": MISUSE,
    "OperatingSystem": M(API, "An OS call inside CUDA failed: seen when IPC/shared memory is blocked in a "
                         "container, or CUDA is used after fork."),
    "InvalidResourceHandle": MISUSE, "IllegalState": MISUSE, "LossyQuery": MISUSE, "SymbolNotFound": MISUSE,
    "NotReady": M("none", "Asynchronous work still running: a status, not an error.", role="benign"),
    "IllegalAddress": M(KF, "A kernel accessed invalid memory. The CUDA context is lost; every later CUDA "
                        "call fails. Rerun with CUDA_LAUNCH_BLOCKING=1 to find the kernel."),
    "LaunchOutOfResources": M("cuda-launch-resources", "A kernel asked for more registers/threads/shared "
                              "memory than the GPU provides."),
    "LaunchTimeout": M("gpu-hung", "A kernel ran longer than the watchdog allows (GPU driving a display) and "
                       "was killed."),
    "LaunchIncompatibleTexturing": MISUSE,
    "PeerAccessAlreadyEnabled": M("none", "P2P access was enabled twice; harmless.", role="benign",
                                  severity="warning"),
    "PeerAccessNotEnabled": MISUSE, "SetOnActiveProcess": MISUSE, "ContextIsDestroyed": MISUSE,
    "Assert": M("cuda-device-assert", "A device-side assert in a kernel failed (typically an index out of "
                "range, e.g. a token id >= vocab size)."),
    "TooManyPeers": M("no-p2p-access", "More peer mappings than the hardware supports."),
    "HostMemoryAlreadyRegistered": MISUSE, "HostMemoryNotRegistered": MISUSE,
    "HardwareStackError": M(KF, "Kernel stack corruption or overflow."),
    "IllegalInstruction": M(KF, "A kernel executed an illegal instruction."),
    "MisalignedAddress": M(KF, "A kernel accessed memory at a misaligned address."),
    "InvalidAddressSpace": M(KF, "A kernel used an address in the wrong address space."),
    "InvalidPc": M(KF, "A kernel jumped to an invalid program counter."),
    "LaunchFailure": M(KF, "A kernel faulted (\"unspecified launch failure\"): the CUDA context is lost."),
    "CooperativeLaunchTooLarge": M("cuda-launch-resources", "A cooperative launch asked for more blocks "
                                   "than can be resident on the GPU."),
    "TensorMemoryLeak": M(KF, "A kernel exited without freeing its tensor memory: a kernel bug."),
    "NotPermitted": MISUSE,
    "NotSupported": M(API, "The operation is not supported on this system/configuration (e.g. a feature "
                      "missing in a vGPU/WSL/container setup)."),
    "SystemNotReady": M("fabric-manager-not-running", "NVSwitch system not initialised: start "
                        "nvidia-fabricmanager of the driver's exact version."),
    "SystemDriverMismatch": M("driver-library-mismatch", "The user-space driver library and the kernel "
                              "module are of different versions (reboot or reinstall the driver)."),
    "CompatNotSupportedOnDevice": M("cuda-forward-compat-unsupported", "The cuda-compat (forward "
                                    "compatibility) libraries are in use on a GPU that does not support them."),
    "MpsConnectionFailed": MPS, "MpsRpcFailure": MPS, "MpsServerNotReady": MPS, "MpsMaxClientsReached": MPS,
    "MpsMaxConnectionsReached": MPS, "MpsClientTerminated": MPS,
    "CdpNotSupported": M(API, "CUDA dynamic parallelism used where it is not supported (e.g. under MPS)."),
    "CdpVersionMismatch": MISUSE,
    "StreamCaptureUnsupported": CAPTURE, "StreamCaptureInvalidated": CAPTURE, "StreamCaptureMerge": CAPTURE,
    "StreamCaptureUnmatched": CAPTURE, "StreamCaptureUnjoined": CAPTURE, "StreamCaptureIsolation": CAPTURE,
    "StreamCaptureImplicit": CAPTURE, "CapturedEvent": CAPTURE, "StreamCaptureWrongThread": CAPTURE,
    "Timeout": M("gpu-hung", "A wait on GPU work timed out."),
    "GraphExecUpdateFailure": MISUSE,
    "ExternalDevice": M("cuda-unknown-error", "An external device (e.g. a NIC using GPUDirect) reported an "
                        "asynchronous error into CUDA; check dmesg and the device's own logs."),
    "InvalidClusterSize": M("cuda-launch-resources", "Thread-block cluster configuration not allowed on "
                            "this GPU."),
    "FunctionNotLoaded": MISUSE, "InvalidResourceType": MISUSE, "InvalidResourceConfiguration": MISUSE,
    "Unknown": M("cuda-unknown-error", "CUDA \"unknown error\": usually a driver/GPU fault or a VM/container "
                 "passthrough problem; check dmesg for an Xid."),
    "ApiFailureBase": M("cuda-unknown-error", "Deprecated base value for unmapped driver errors."),
    # added after CUDA 13.0
    "VersionTranslation": M("cuda-runtime-mismatch", "The driver is newer than the CUDA runtime and returned "
                            "data this runtime cannot interpret: use a newer CUDA runtime."),
    "InsufficientLoaderVersion": M("driver-too-old", "The fatbinary needs a newer loader (driver) than "
                                   "installed."),
    "StreamDetached": MISUSE, "GraphRecaptureFailure": MISUSE,
    "FabricNotReady": M("fabric-manager-not-running", "The GPU fabric (NVLink/NVSwitch, fabric manager or "
                        "IMEX) was not ready in time; check the fabric manager service."),
}
RUNTIME_MAP = {("cudaSuccess" if k == "Success" else "cudaError" + k): v for k, v in _RT.items()}

_DRV = {
    "SUCCESS": OK,
    "INVALID_VALUE": _RT["InvalidValue"], "OUT_OF_MEMORY": _RT["MemoryAllocation"],
    "NOT_INITIALIZED": _RT["InitializationError"], "DEINITIALIZED": _RT["CudartUnloading"],
    "PROFILER_DISABLED": PROFILER, "PROFILER_NOT_INITIALIZED": PROFILER,
    "PROFILER_ALREADY_STARTED": PROFILER, "PROFILER_ALREADY_STOPPED": PROFILER,
    "STUB_LIBRARY": _RT["StubLibrary"], "CALL_REQUIRES_NEWER_DRIVER": _RT["CallRequiresNewerDriver"],
    "DEVICE_UNAVAILABLE": _RT["DevicesUnavailable"],
    "MULTICAST_RESOURCE_FULL": M("unknown-failure", "No hardware resource left to bind memory to a "
                                "multicast (NVLS) object. proposed = \"nvls-multicast-unavailable: NVLink "
                                "SHARP multicast resources exhausted; disable NVLS (e.g. NCCL_NVLS_ENABLE=0)\""),
    "NO_DEVICE": _RT["NoDevice"], "INVALID_DEVICE": _RT["InvalidDevice"],
    "DEVICE_NOT_LICENSED": _RT["DeviceNotLicensed"], "INVALID_IMAGE": _RT["InvalidKernelImage"],
    "INVALID_CONTEXT": _RT["DeviceUninitialized"],
    "CONTEXT_ALREADY_CURRENT": M(API, "Deprecated: the context was already current.", severity="warning"),
    "MAP_FAILED": MISUSE, "UNMAP_FAILED": MISUSE, "ARRAY_IS_MAPPED": MISUSE, "ALREADY_MAPPED": MISUSE,
    "NO_BINARY_FOR_GPU": _RT["NoKernelImageForDevice"], "ALREADY_ACQUIRED": MISUSE, "NOT_MAPPED": MISUSE,
    "NOT_MAPPED_AS_ARRAY": MISUSE, "NOT_MAPPED_AS_POINTER": MISUSE,
    "ECC_UNCORRECTABLE": _RT["ECCUncorrectable"], "UNSUPPORTED_LIMIT": MISUSE,
    "CONTEXT_ALREADY_IN_USE": _RT["DeviceAlreadyInUse"],
    "PEER_ACCESS_UNSUPPORTED": _RT["PeerAccessUnsupported"], "INVALID_PTX": _RT["InvalidPtx"],
    "INVALID_GRAPHICS_CONTEXT": MISUSE, "NVLINK_UNCORRECTABLE": _RT["NvlinkUncorrectable"],
    "JIT_COMPILER_NOT_FOUND": _RT["JitCompilerNotFound"],
    "UNSUPPORTED_PTX_VERSION": _RT["UnsupportedPtxVersion"],
    "JIT_COMPILATION_DISABLED": _RT["JitCompilationDisabled"], "UNSUPPORTED_EXEC_AFFINITY": MISUSE,
    "UNSUPPORTED_DEVSIDE_SYNC": MISUSE, "CONTAINED": _RT["Contained"],
    "INSUFFICIENT_LOADER_VERSION": _RT["InsufficientLoaderVersion"],
    "INVALID_SOURCE": M(API, "Device code given to the driver JIT/linker did not compile or link (a bug in "
                        "the program that generated it)."),
    "FILE_NOT_FOUND": MISUSE, "SHARED_OBJECT_SYMBOL_NOT_FOUND": MISUSE,
    "SHARED_OBJECT_INIT_FAILED": MISUSE, "OPERATING_SYSTEM": _RT["OperatingSystem"],
    "INVALID_HANDLE": MISUSE, "ILLEGAL_STATE": MISUSE, "LOSSY_QUERY": MISUSE, "NOT_FOUND": MISUSE,
    "NOT_READY": _RT["NotReady"], "ILLEGAL_ADDRESS": _RT["IllegalAddress"],
    "LAUNCH_OUT_OF_RESOURCES": _RT["LaunchOutOfResources"], "LAUNCH_TIMEOUT": _RT["LaunchTimeout"],
    "LAUNCH_INCOMPATIBLE_TEXTURING": MISUSE,
    "PEER_ACCESS_ALREADY_ENABLED": _RT["PeerAccessAlreadyEnabled"], "PEER_ACCESS_NOT_ENABLED": MISUSE,
    "PRIMARY_CONTEXT_ACTIVE": MISUSE, "CONTEXT_IS_DESTROYED": MISUSE, "ASSERT": _RT["Assert"],
    "TOO_MANY_PEERS": _RT["TooManyPeers"], "HOST_MEMORY_ALREADY_REGISTERED": MISUSE,
    "HOST_MEMORY_NOT_REGISTERED": MISUSE, "HARDWARE_STACK_ERROR": _RT["HardwareStackError"],
    "ILLEGAL_INSTRUCTION": _RT["IllegalInstruction"], "MISALIGNED_ADDRESS": _RT["MisalignedAddress"],
    "INVALID_ADDRESS_SPACE": _RT["InvalidAddressSpace"], "INVALID_PC": _RT["InvalidPc"],
    "LAUNCH_FAILED": _RT["LaunchFailure"], "COOPERATIVE_LAUNCH_TOO_LARGE": _RT["CooperativeLaunchTooLarge"],
    "TENSOR_MEMORY_LEAK": _RT["TensorMemoryLeak"], "NOT_PERMITTED": MISUSE,
    "NOT_SUPPORTED": _RT["NotSupported"], "SYSTEM_NOT_READY": _RT["SystemNotReady"],
    "SYSTEM_DRIVER_MISMATCH": _RT["SystemDriverMismatch"],
    "COMPAT_NOT_SUPPORTED_ON_DEVICE": _RT["CompatNotSupportedOnDevice"],
    "MPS_CONNECTION_FAILED": MPS, "MPS_RPC_FAILURE": MPS, "MPS_SERVER_NOT_READY": MPS,
    "MPS_MAX_CLIENTS_REACHED": MPS, "MPS_MAX_CONNECTIONS_REACHED": MPS, "MPS_CLIENT_TERMINATED": MPS,
    "CDP_NOT_SUPPORTED": _RT["CdpNotSupported"], "CDP_VERSION_MISMATCH": MISUSE,
    "STREAM_CAPTURE_UNSUPPORTED": CAPTURE, "STREAM_CAPTURE_INVALIDATED": CAPTURE,
    "STREAM_CAPTURE_MERGE": CAPTURE, "STREAM_CAPTURE_UNMATCHED": CAPTURE, "STREAM_CAPTURE_UNJOINED": CAPTURE,
    "STREAM_CAPTURE_ISOLATION": CAPTURE, "STREAM_CAPTURE_IMPLICIT": CAPTURE, "CAPTURED_EVENT": CAPTURE,
    "STREAM_CAPTURE_WRONG_THREAD": CAPTURE, "TIMEOUT": _RT["Timeout"],
    "GRAPH_EXEC_UPDATE_FAILURE": MISUSE, "EXTERNAL_DEVICE": _RT["ExternalDevice"],
    "INVALID_CLUSTER_SIZE": _RT["InvalidClusterSize"], "FUNCTION_NOT_LOADED": MISUSE,
    "INVALID_RESOURCE_TYPE": MISUSE, "INVALID_RESOURCE_CONFIGURATION": MISUSE,
    "KEY_ROTATION": M("unknown-failure", "Key rotation failed in confidential-computing mode. proposed = "
                      "\"confidential-computing-error: GPU confidential-computing (CC) mode failure\""),
    "STREAM_DETACHED": MISUSE, "GRAPH_RECAPTURE_FAILURE": MISUSE,
    "FABRIC_NOT_READY": _RT["FabricNotReady"], "UNKNOWN": _RT["Unknown"],
}
DRIVER_MAP = {("CUDA_SUCCESS" if k == "SUCCESS" else "CUDA_ERROR_" + k): v for k, v in _DRV.items()}

_NVRTC_PCH = M("none", "Precompiled-header status: compilation itself went on without the PCH.",
               role="benign", severity="warning")
NVRTC_MAP = {
    "NVRTC_SUCCESS": OK,
    "NVRTC_ERROR_OUT_OF_MEMORY": M("host-memory-exhausted", "NVRTC (runs on the CPU) ran out of host memory."),
    "NVRTC_ERROR_PROGRAM_CREATION_FAILURE": MISUSE,
    "NVRTC_ERROR_INVALID_INPUT": MISUSE, "NVRTC_ERROR_INVALID_PROGRAM": MISUSE,
    "NVRTC_ERROR_INVALID_OPTION": M("gpu-arch-unsupported", "Usually an --gpu-architecture/-arch option this "
                                    "NVRTC release does not know (NVRTC older than the GPU); otherwise a bad "
                                    "option passed by the JIT-ing library."),
    "NVRTC_ERROR_COMPILATION": M(API, "The runtime-generated CUDA source failed to compile: a bug in the "
                                 "library that generated it, or CUDA headers of another version on the "
                                 "include path."),
    "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE": M("missing-shared-library", "NVRTC could not use its builtins "
                                               "library (libnvrtc-builtins.so of the same version missing or "
                                               "mismatched)."),
    "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION": MISUSE,
    "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION": MISUSE,
    "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID": MISUSE,
    "NVRTC_ERROR_INTERNAL_ERROR": M("unknown-failure", "NVRTC internal error (component: nvrtc)."),
    "NVRTC_ERROR_TIME_FILE_WRITE_FAILED": M(API, "NVRTC could not write its timing file (path/permissions).",
                                            severity="warning"),
    "NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED": _NVRTC_PCH, "NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED": _NVRTC_PCH,
    "NVRTC_ERROR_PCH_CREATE": _NVRTC_PCH,
    "NVRTC_ERROR_CANCELLED": M("unknown-failure", "Compilation cancelled by the caller's callback.",
                               role="consequence", severity="warning"),
    "NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED": M(API, "NVRTC could not write its time-trace file.",
                                                  severity="warning"),
    "NVRTC_ERROR_BUSY": M(API, "NVRTC reported busy (meaning not documented beyond the name)."),
}

CUBLAS_MAP = {
    "CUBLAS_STATUS_SUCCESS": OK,
    "CUBLAS_STATUS_NOT_INITIALIZED": M("runtime-oom", "cuBLAS handle creation failed: most often no GPU memory "
                                       "left for the handle/workspace, else a broken CUDA context or a cuBLAS "
                                       "of another CUDA major."),
    "CUBLAS_STATUS_ALLOC_FAILED": M("runtime-oom", "cuBLAS could not allocate GPU memory."),
    "CUBLAS_STATUS_INVALID_VALUE": M(API, "Unsupported value, shape, alignment or data type passed to "
                                     "cuBLAS by the calling library."),
    "CUBLAS_STATUS_ARCH_MISMATCH": M("gpu-arch-unsupported", "The operation needs a GPU feature this GPU "
                                     "lacks (e.g. FP8/FP4 math on an older GPU)."),
    "CUBLAS_STATUS_MAPPING_ERROR": MISUSE,
    "CUBLAS_STATUS_EXECUTION_FAILED": M(KF, "The cuBLAS kernel failed to launch/run: usually an earlier "
                                        "kernel fault or invalid memory passed in; the first CUDA error in "
                                        "the log is the root."),
    "CUBLAS_STATUS_INTERNAL_ERROR": M("unknown-failure", "cuBLAS internal failure (component: cublas); often "
                                      "follows an out-of-memory or an earlier CUDA error, check the lines "
                                      "before it."),
    "CUBLAS_STATUS_NOT_SUPPORTED": M("gpu-arch-unsupported", "The requested GEMM configuration (data types, "
                                     "layout, epilogue) is not supported by this cuBLAS on this GPU."),
    "CUBLAS_STATUS_LICENSE_ERROR": M("unknown-failure", "cuBLAS license check failed (component: cublas)."),
}

_CUDNN_NS = M(API, "The calling library asked cuDNN for a configuration it does not support (graph "
                   "pattern, shape, type, layout); a newer cuDNN or another backend may support it.")
_CUDNN_BAD = M(API, "Invalid parameter passed to cuDNN by the calling library.")
_CUDNN_EXEC = M(KF, "A cuDNN kernel (or the CUDA/cuBLAS call under it) failed at run time: the first CUDA "
                    "error in the log is the root.")
CUDNN_MAP = {
    "CUDNN_STATUS_SUCCESS": OK,
    "CUDNN_STATUS_NOT_INITIALIZED": M("runtime-oom", "cuDNN handle creation failed: most often no GPU memory "
                                      "left, else a cuDNN built for another CUDA major or a broken context."),
    "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH": M("package-conflict", "cuDNN sub-libraries of different "
                                                  "versions are mixed (two cuDNN installs on the library path)."),
    "CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH": M("package-conflict", "A serialized cuDNN plan/graph from "
                                                     "another cuDNN version."),
    "CUDNN_STATUS_DEPRECATED": M(API, "A deprecated cuDNN feature was used.", severity="warning"),
    "CUDNN_STATUS_LICENSE_ERROR": M("unknown-failure", "cuDNN license check failed (component: cudnn)."),
    "CUDNN_STATUS_RUNTIME_IN_PROGRESS": M("none", "Asynchronous status query: still running.", role="benign"),
    "CUDNN_STATUS_RUNTIME_FP_OVERFLOW": M("unknown-failure", "Floating-point overflow detected at run time "
                                          "(component: cudnn). proposed = \"numeric-overflow: the model or "
                                          "its inputs overflow the data type\""),
    "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED": M("missing-shared-library", "A cuDNN sub-library "
                                                "(libcudnn_*.so.9) could not be loaded."),
    "CUDNN_STATUS_BAD_PARAM": _CUDNN_BAD, "CUDNN_STATUS_BAD_PARAM_NULL_POINTER": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER": _CUDNN_BAD, "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND": _CUDNN_BAD, "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH": _CUDNN_BAD, "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH": _CUDNN_BAD,
    "CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE": _CUDNN_BAD,
    "CUDNN_STATUS_NOT_SUPPORTED": _CUDNN_NS, "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN": _CUDNN_NS,
    "CUDNN_STATUS_NOT_SUPPORTED_SHAPE": _CUDNN_NS, "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE": _CUDNN_NS,
    "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT": _CUDNN_NS,
    "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER": M("driver-too-old", "The driver is too old for "
                                                             "this cuDNN."),
    "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART": M("cuda-runtime-mismatch", "cuDNN was built for another "
                                                        "CUDA runtime than the one loaded."),
    "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH": M("gpu-arch-unsupported", "This cuDNN has no kernels for this "
                                                  "GPU architecture."),
    "CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING": M("missing-shared-library", "A library cuDNN "
                                                                 "needs at run time (e.g. cuBLAS/cuBLASLt, "
                                                                 "NVRTC) is missing."),
    "CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE": M("missing-shared-library", "The cuDNN sub-library "
                                                           "for this operation is not installed."),
    "CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT": M("cuda-launch-resources", "Not enough shared "
                                                               "memory on this GPU for the kernel."),
    "CUDNN_STATUS_NOT_SUPPORTED_PADDING": _CUDNN_NS, "CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM": _CUDNN_NS,
    "CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API": _CUDNN_NS,
    "CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE": _CUDNN_NS,
    "CUDNN_STATUS_INTERNAL_ERROR": M("unknown-failure", "cuDNN internal error (component: cudnn); check the "
                                     "lines before it for an out-of-memory or CUDA error."),
    "CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED": M("unknown-failure", "cuDNN's run-time kernel "
                                                        "compilation failed (component: cudnn)."),
    "CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE": M("unknown-failure", "cuDNN internal error "
                                                      "(component: cudnn)."),
    "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED": M("host-memory-exhausted", "cuDNN could not "
                                                            "allocate host memory."),
    "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED": M("runtime-oom", "cuDNN could not allocate GPU "
                                                              "memory."),
    "CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM": M("cuda-launch-resources", "cuDNN computed launch "
                                                      "parameters the GPU rejected."),
    "CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED": M("unknown-failure", "cuDNN texture creation "
                                                             "failed (component: cudnn)."),
    "CUDNN_STATUS_EXECUTION_FAILED": _CUDNN_EXEC, "CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER": _CUDNN_EXEC,
    "CUDNN_STATUS_EXECUTION_FAILED_CUBLAS": _CUDNN_EXEC, "CUDNN_STATUS_EXECUTION_FAILED_CUDART": _CUDNN_EXEC,
    "CUDNN_STATUS_EXECUTION_FAILED_CURAND": _CUDNN_EXEC,
    # deprecated cuDNN 8 names kept as aliases in cuDNN 9 (their cuDNN 8 numeric values differ)
    "CUDNN_STATUS_ALLOC_FAILED": M("runtime-oom", "cuDNN 8 name for a failed allocation (in cuDNN 8 usually "
                                   "GPU memory; cuDNN 9 aliases it to the host-allocation code)."),
    "CUDNN_STATUS_INVALID_VALUE": _CUDNN_BAD,
    "CUDNN_STATUS_ARCH_MISMATCH": M("gpu-arch-unsupported", "cuDNN 8 name: no kernels for this GPU "
                                    "architecture."),
    "CUDNN_STATUS_MAPPING_ERROR": M("unknown-failure", "cuDNN 8 name for a texture/mapping failure "
                                    "(component: cudnn)."),
    "CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING": M("missing-shared-library", "cuDNN 8 name: a library cuDNN "
                                                   "needs at run time is missing."),
    "CUDNN_STATUS_VERSION_MISMATCH": M("package-conflict", "cuDNN 8 name: cuDNN libraries of different "
                                       "versions are mixed."),
}

# Xid: code -> M.  Groups follow NVIDIA's catalogue resolution buckets (RESTART_APP + CHECK_APP => the
# application's context died; RESET_GPU / CONTACT_SUPPORT => GPU or driver), judged per code.
XID_UNUSED = {1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 27, 28, 29, 30,
              33, 34, 35, 36, 42, 47, 49, 50, 51, 52, 53, 55, 56, 57, 58, 59, 61, 65, 73, 81, 87, 90, 91,
              108, 111, 112, 113, 114, 115, 116, 117, 118, 122, 123, 124, 125, 138}
_XID_APP = M(KF, "The application's GPU context was killed by this engine error (catalogue: restart the "
                 "application); usually caused by the application/library, not the GPU.")
_XID_ENGINE = M(KF, "Exception in a copy/video engine used by the application; restart the application.")
_XID_HW = M(HW, "GPU or board fault reported by the driver: reset the GPU / drain the node and follow "
                "NVIDIA's Xid catalogue.")
_XID_HW_WARN = M(HW, "Health warning from the driver: the GPU keeps working, but schedule a check/reset.",
                 severity="warning")
_XID_NVLINK = M(HW, "NVLink error: check the links/cables, the fabric manager and follow NVIDIA's "
                    "NVLink workflow in the Xid catalogue.")
_XID_DRV = M("cuda-unknown-error", "Driver/firmware-internal error; usually ignorable alone, report it if "
                                   "it repeats.", severity="warning")
XID_MAP: dict[int, M] = {c: M(HW, "Unused on current GPUs according to NVIDIA's catalogue.") for c in XID_UNUSED}
XID_MAP.update({
    8: M("gpu-hung", "The GPU stopped processing (channel idle timeout)."),
    11: _XID_APP, 25: _XID_APP, 32: _XID_APP, 69: _XID_APP, 80: _XID_APP,
    13: M(KF, "Graphics engine exception: a kernel fault in the application (illegal address, "
              "out-of-range access); goes with cudaErrorIllegalAddress and the like in the application log."),
    14: M("none", "Fake error injected for testing.", role="benign"),
    31: M(KF, "GPU memory page fault (MMU fault): a kernel accessed invalid memory; the application's log "
              "shows an illegal memory access."),
    37: _XID_DRV, 38: _XID_DRV, 66: _XID_DRV, 67: _XID_DRV, 141: _XID_DRV, 160: _XID_DRV, 161: _XID_DRV,
    39: _XID_ENGINE, 40: _XID_ENGINE, 41: _XID_ENGINE, 60: _XID_ENGINE, 68: _XID_ENGINE, 70: _XID_ENGINE,
    71: _XID_ENGINE, 72: _XID_ENGINE, 75: _XID_ENGINE, 76: _XID_ENGINE, 77: _XID_ENGINE, 82: _XID_ENGINE,
    83: _XID_ENGINE, 84: _XID_ENGINE, 85: _XID_ENGINE, 86: _XID_ENGINE, 88: _XID_ENGINE, 89: _XID_ENGINE,
    139: _XID_ENGINE, 142: _XID_ENGINE,
    **{c: _XID_ENGINE for c in range(96, 106)}, **{c: _XID_ENGINE for c in range(126, 136)},
    43: M(KF, "The driver reset the application's channel after a fault (\"GPU stopped processing\"); "
              "follows an application kernel fault such as Xid 13/31."),
    44: M(KF, "Graphics engine fault during a context switch."),
    45: M("process-crashed", "Pre-emptive cleanup of a process's GPU channels after an earlier error or after "
                             "the process was killed: look at the Xid/error before it.",
          role="consequence", severity="warning"),
    46: M("gpu-hung", "The GPU stopped processing: reset the GPU."),
    48: M(HW, "Double-bit (uncorrectable) ECC error in GPU memory: the running application dies; reset the "
              "GPU (row remapping) and replace it if it repeats."),
    54: M(HW, "Auxiliary power is not connected to the GPU board."),
    62: M(HW, "Internal micro-controller halt: reset the GPU."),
    63: M(HW, "A memory row was marked for remapping / page retired (ECC): reset the GPU to apply it.",
          severity="warning"),
    64: M(HW, "Row remapping / page retirement failed: reset the GPU; replace it if it repeats."),
    74: _XID_NVLINK,
    78: M("driver-library-mismatch", "A vGPU could not start (catalogue: update software/firmware; typically a "
                                     "host/guest driver combination that is not supported)."),
    79: M(HW, "The GPU fell off the bus (stopped responding on PCIe): hardware, power, thermal or PCIe "
              "problem; the node needs the GPU reset or a reboot."),
    92: M(HW, "High rate of single-bit (corrected) ECC errors.", severity="warning"),
    93: M(HW, "InfoROM wear limit exceeded (non-fatal).", severity="warning"),
    94: M(HW, "Contained ECC/memory error: only the affected application dies; restart it, reset the GPU "
              "when convenient."),
    95: M(HW, "Uncontained ECC/memory error: all applications on the GPU are affected; reset the GPU."),
    106: M("none", "SMBPBI test message.", role="benign"), 107: M("none", "SMBPBI test message.", role="benign"),
    109: M("gpu-hung", "Context-switch timeout: reset the GPU."),
    110: M(HW, "Security fault: reset the GPU."),
    119: M("gpu-hung", "GSP firmware did not answer an RPC in time: the GPU is hung; reset it (if it "
                       "repeats, check the driver version and consider disabling GSP firmware where supported)."),
    120: M(HW, "Error in the GSP firmware: reset the GPU."),
    121: M(HW, "C2C (chip-to-chip) link error.", severity="warning"),
    136: M(HW, "NVLink training failed: reset the GPU, check the link."),
    137: _XID_NVLINK,
    140: M(HW, "Unrecovered ECC error escaped containment: reset the GPU."),
    143: M(HW, "GPU initialisation failed: reset the GPU."),
    **{c: _XID_NVLINK for c in range(144, 151)},
    151: M("unknown-failure", "Confidential-computing key rotation failed (catalogue: restart the VM). "
                              "proposed = \"confidential-computing-error: GPU CC-mode failure\""),
    152: M(HW, "DLA engine error (Tegra).", severity="warning"), 153: M(HW, "DLA engine timeout (Tegra).",
                                                                        severity="warning"),
    154: M(HW, "The driver announces the recovery action another Xid requires (GPU reset, node reboot, "
               "drain): informational, follow the action.", role="consequence", severity="info"),
    155: _XID_NVLINK,
    156: M(HW, "A GPU resource was retired; reset the GPU to apply.", severity="warning"),
    157: M(HW, "GPU resource retirement failed."),
    158: M("gpu-hung", "GPU fatal timeout: reset the GPU."),
    159: M(HW, "CHI non-data error (Grace-Hopper/Blackwell coherent interconnect)."),
    162: M("none", "Power-smoothing circuitry re-engaged.", role="benign"),
    163: _XID_HW_WARN, 164: _XID_HW_WARN, 165: _XID_HW_WARN,
    166: _XID_NVLINK, 167: M(HW, "PCIe fatal timeout."),
    168: M(HW, "Errors found in the write-protected region: GPU runs with reduced memory capacity."),
    169: M(HW, "Internal micro-controller (SEC2) halt."), 170: _XID_NVLINK,
    171: M(HW, "Uncorrectable DRAM error (detail for Xid 48)."), 172: M(HW, "Uncorrectable SRAM error (detail "
                                                                           "for Xid 48)."),
    173: M(HW, "Fatal C2C link failure."),
    174: M("process-crashed", "The driver reset a channel and killed its process silently after an error.",
          role="consequence", severity="warning"),
    175: M(HW, "Memory subsystem error."),
    176: M(HW, "PCIe correctable-error fault.", severity="warning"),
})

# ----------------------------------------------------------------------------------------------------------
# How the messages appear in logs: contexts, code patterns, example format strings (each with its source).
# ----------------------------------------------------------------------------------------------------------

CUDA_CONTEXTS = [r"(?i)\bcuda\b", r"(?i)cuda_?check", r"\bcudaError", r"\bcuda[A-Z]\w*", r"\bCUDA_ERROR_",
                 r"\bCUresult\b", r"Cuda (?:Runtime|Driver) \(", r"(?i)\bcudart\b"]
FMT = {
    "torch": ("CUDA error: {text}", "pytorch/pytorch c10/cuda/CUDAException.cpp (format string)"),
    "torch_devcount": ("Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before "
                       "calling NumCudaDevices() that might have already set an error? Error {code}: {text}",
                       "pytorch/pytorch c10/cuda/CUDAFunctions.cpp (format string)"),
    "thc": ("cuda runtime error ({code}) : {text}", "pytorch/pytorch aten/src/THC/THCGeneral.cpp "
                                                     "(format string, legacy THC)"),
    "trtllm_rt": ("[TensorRT-LLM][ERROR] CUDA runtime error in {func}: {text}",
                  "NVIDIA/TensorRT-LLM cpp/include/tensorrt_llm/common/cudaUtils.h (format string)"),
    "trtllm_cublas": ("[TensorRT-LLM][ERROR] CUDA runtime error in {func}: {name}",
                      "NVIDIA/TensorRT-LLM cpp/include/tensorrt_llm/common/cudaUtils.h (format string)"),
    "trtllm_drv": ("[TensorRT-LLM][ERROR] CUDA driver error in {func}: {name}",
                   "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/common/cudaDriverWrapper.h (format string)"),
    "samples": ('CUDA error at {file} code={code}({name}) "{func}" ',
                "NVIDIA/cuda-samples Common/helper_cuda.h (format string)"),
    "nccl_rt": ("Cuda failure '{text}'", "NVIDIA/nccl src/include/checks.h (format string)"),
    "nccl_drv": ("Cuda failure {code} '{text}'", "NVIDIA/nccl src/include/cudawrap.h (format string)"),
    "torch_drv": ("CUDA driver error: {text}", "pytorch/pytorch aten/src/ATen/cuda/Exceptions.h (format string)"),
    "torch_cublas": ("CUDA error: {name} when calling `{func}`",
                     "pytorch/pytorch aten/src/ATen/cuda/Exceptions.h (format string)"),
    "torch_cudnn": ("cuDNN error: {text}", "pytorch/pytorch aten/src/ATen/cuda/Exceptions.h (format string)"),
    "torch_nvrtc": ("CUDA NVRTC error: {text}", "pytorch/pytorch aten/src/ATen/cuda/Exceptions.h (format string)"),
    "xid": ("NVRM: Xid (PCI:{pci}): {code}, pid={pid}, name={proc}, {msg}",
            "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/rc/kernel_rc.c (format string)"),
    "xid_nopid": ("NVRM: Xid (PCI:{pci}): {code}, {msg}",
                  "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/rc/kernel_rc.c (format string)"),
    "k8s_xid": ("XidCriticalError: Xid={code} on Device={uuid}; marking device as unhealthy.",
                "NVIDIA/k8s-device-plugin internal/rm/health.go (format string)"),
}
_F = {"func": "cudaStreamSynchronize(stream)", "file": "gemm.cu:118"}
EXAMPLES: dict[str, dict[str, list[tuple[str, dict]]]] = {
    "cuda-runtime": {
        "cudaErrorIllegalAddress": [("torch", {}), ("trtllm_rt", _F), ("samples", _F), ("nccl_rt", {})],
        "cudaErrorLaunchFailure": [("torch", {}), ("nccl_rt", {})],
        "cudaErrorMisalignedAddress": [("torch", {})], "cudaErrorIllegalInstruction": [("torch", {})],
        "cudaErrorAssert": [("torch", {})],
        "cudaErrorMemoryAllocation": [("trtllm_rt", {"func": "cudaMalloc(&ptr, size)"}), ("thc", {}),
                                      ("torch_devcount", {})],
        "cudaErrorNoKernelImageForDevice": [("torch", {}), ("trtllm_rt", {"func": "cudaGetLastError()"})],
        "cudaErrorLaunchOutOfResources": [("trtllm_rt", {"func": "cudaGetLastError()"})],
        "cudaErrorInvalidConfiguration": [("torch", {})],
        "cudaErrorInvalidDevice": [("torch", {})],
        "cudaErrorInvalidValue": [("trtllm_rt", {"func": "cudaMemcpyAsync(dst, src, size, kind, stream)"})],
        "cudaErrorNoDevice": [("samples", {"file": "main.cu:42", "func": "cudaSetDevice(0)"})],
        "cudaErrorStubLibrary": [("samples", {"file": "main.cu:42", "func": "cudaGetDeviceCount(&n)"})],
        "cudaErrorDevicesUnavailable": [("torch", {})],
        "cudaErrorSystemNotReady": [("torch_devcount", {})],
        "cudaErrorSystemDriverMismatch": [("torch_devcount", {})],
        "cudaErrorCompatNotSupportedOnDevice": [("torch_devcount", {})],
        "cudaErrorUnknown": [("torch_devcount", {}), ("torch", {})],
        "cudaErrorOperatingSystem": [("torch_devcount", {})],
        "cudaErrorNotSupported": [("torch_devcount", {})],
        "cudaErrorCudartUnloading": [("nccl_rt", {})],
        "cudaErrorUnsupportedPtxVersion": [("torch", {})],
        "cudaErrorECCUncorrectable": [("torch", {})], "cudaErrorNvlinkUncorrectable": [("torch", {})],
        "cudaErrorMpsConnectionFailed": [("samples", {"file": "main.cu:42", "func": "cudaSetDevice(0)"})],
    },
    "cuda-driver": {
        "CUDA_ERROR_ILLEGAL_ADDRESS": [("trtllm_drv", {"func": "cuLaunchKernelEx(&config, func, args, nullptr)"}),
                                       ("nccl_drv", {}), ("torch_drv", {})],
        "CUDA_ERROR_OUT_OF_MEMORY": [("trtllm_drv", {"func": "cuMemCreate(&handle, size, &prop, 0)"}),
                                     ("nccl_drv", {})],
        "CUDA_ERROR_NO_BINARY_FOR_GPU": [("trtllm_drv", {"func": "cuModuleLoadData(&module, image)"})],
        "CUDA_ERROR_INVALID_IMAGE": [("trtllm_drv", {"func": "cuModuleLoadData(&module, image)"})],
        "CUDA_ERROR_LAUNCH_FAILED": [("torch_drv", {})],
        "CUDA_ERROR_NOT_SUPPORTED": [("nccl_drv", {})],
        "CUDA_ERROR_SYSTEM_NOT_READY": [("nccl_drv", {})],
        "CUDA_ERROR_UNSUPPORTED_PTX_VERSION": [("trtllm_drv", {"func": "cuModuleLoadData(&module, image)"})],
        "CUDA_ERROR_NO_DEVICE": [("samples", {"file": "main.cpp:30", "func": "cuInit(0)"})],
    },
    "nvrtc": {
        "NVRTC_ERROR_COMPILATION": [("torch_nvrtc", {})],
        "NVRTC_ERROR_INVALID_OPTION": [("torch_nvrtc", {})],
        "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE": [("torch_nvrtc", {})],
    },
    "cublas": {
        "CUBLAS_STATUS_EXECUTION_FAILED": [("torch_cublas", {"func": "cublasGemmEx(handle, opa, opb, m, n, k, "
                                            "&falpha, a, CUDA_R_16BF, lda, b, CUDA_R_16BF, ldb, &fbeta, c, "
                                            "CUDA_R_16BF, ldc, CUDA_R_32F, CUBLAS_GEMM_DEFAULT_TENSOR_OP)"}),
                                           ("trtllm_cublas", {"func": "cublasLtMatmul(handle, desc, alpha, A, "
                                            "Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, ws, wsSize, "
                                            "stream)"})],
        "CUBLAS_STATUS_NOT_INITIALIZED": [("torch_cublas", {"func": "cublasCreate(handle)"})],
        "CUBLAS_STATUS_ALLOC_FAILED": [("torch_cublas", {"func": "cublasCreate(handle)"})],
        "CUBLAS_STATUS_INTERNAL_ERROR": [("torch_cublas", {"func": "cublasLtMatmul(ltHandle, computeDesc, "
                                          "&alpha_val, mat1_ptr, Adesc, mat2_ptr, Bdesc, &beta_val, "
                                          "result_ptr, Cdesc, result_ptr, Cdesc, &heuristicResult.algo, "
                                          "workspace, workspaceSize, stream)"})],
        "CUBLAS_STATUS_INVALID_VALUE": [("trtllm_cublas", {"func": "cublasLtMatmulAlgoGetHeuristic(...)"})],
        "CUBLAS_STATUS_NOT_SUPPORTED": [("trtllm_cublas", {"func": "cublasLtMatmul(...)"})],
    },
    "cudnn": {
        "CUDNN_STATUS_NOT_INITIALIZED": [("torch_cudnn", {})],
        "CUDNN_STATUS_EXECUTION_FAILED": [("torch_cudnn", {})],
        "CUDNN_STATUS_INTERNAL_ERROR": [("torch_cudnn", {})],
        "CUDNN_STATUS_BAD_PARAM": [("torch_cudnn", {})],
        "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED": [("torch_cudnn", {})],
    },
}
_XPCI = {"pci": "0000:3b:00", "pid": "2414", "proc": "python3"}
XID_EXAMPLES = {
    79: [("xid", dict(_XPCI, msg="GPU has fallen off the bus.")),
         ("xid_nopid", dict(_XPCI, msg="GPU has fallen off the bus.")),
         ("NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.",
          "NVIDIA/open-gpu-kernel-modules src/nvidia/arch/nvalloc/unix/src/osinit.c + os-interface.h "
          "NV_DEV_PRINTF (format string)"),
         ("NVRM: fallen off the bus and is not responding to commands.",
          "NVIDIA/open-gpu-kernel-modules src/nvidia/arch/nvalloc/unix/src/osapi.c (format string)")],
    119: [("xid", dict(_XPCI, msg="Timeout after 6s of waiting for RPC response from GPU0 GSP! Expected "
                                  "function 76 (GSP_RM_CONTROL) sequence 5120 (0x20800a4c 0x4)."))],
    154: [("xid_nopid", dict(_XPCI, msg="GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset "
                                        "Required)"))],
    94: [("NVRM: Xid (PCI:0000:01:00): 94, pid=7062, Contained: CE User Channel (0x9). RST: No, D-RST: No",
          "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/arch/ampere/kern_gpu_error_cont_ga100.c "
          "(example in source comment)")],
    95: [("NVRM: Xid (PCI:0000:01:00): 95, pid=7062, Uncontained: LTC TAG (0x2, 0x1). RST: Yes, D-RST: No",
          "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/arch/ampere/kern_gpu_error_cont_ga100.c "
          "(example in source comment)")],
    48: [("k8s_xid", {"uuid": "GPU-5d1f0c3e-8a4b-4c2e-9f1a-2b3c4d5e6f70"})],
}
XID_EXTRA_PATTERNS = {
    79: [r"NVRM: GPU (?P<device>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]): GPU has fallen off "
         r"the bus", r"NVRM: fallen off the bus and is not responding to commands"],
}
XID_TEXT = {79: "GPU has fallen off the bus",
            119: "of waiting for RPC response from",
            154: "GPU recovery action changed from"}

# ----------------------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------------------


class MineError(Exception):
    pass


def parse_c_enum(text: str, enum_re: str, where: str) -> list[tuple[str, int]]:
    m = re.search(enum_re, text, re.S)
    if not m:
        raise MineError(f"{where}: enum not found ({enum_re})")
    body = re.sub(r"/\*.*?\*/", " ", m.group(1), flags=re.S)
    body = re.sub(r"//[^\n]*", " ", body)
    out: list[tuple[str, int]] = []
    known: dict[str, int] = {}
    nxt = 0
    for item in body.split(","):
        item = " ".join(item.split())
        if not item:
            continue
        if "=" in item:
            lhs, rhs = (s.strip() for s in item.split("=", 1))
        else:
            lhs, rhs = item, None
        name = lhs.split()[0]  # drop attributes such as CUDNN_DEPRECATED_ENUM
        if rhs is None:
            val = nxt
        elif re.fullmatch(r"-?(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", rhs):
            val = int(rhs.rstrip("uUlL"), 0)
        elif rhs in known:
            val = known[rhs]
        else:
            raise MineError(f"{where}: cannot evaluate {name} = {rhs}")
        known[name] = val
        out.append((name, val))
        nxt = val + 1
    return out


ENUM_RE = {
    "cuda-runtime": r"enum\s+__device_builtin__\s+cudaError\s*\{(.*?)\}\s*;",
    "cuda-driver": r"typedef\s+enum\s+cudaError_enum\s*\{(.*?)\}\s*CUresult\s*;",
    "nvrtc": r"typedef\s+enum\s*\{([^{}]*?)\}\s*nvrtcResult\s*;",
    "cublas": r"typedef\s+enum\s*\{([^{}]*?)\}\s*cublasStatus_t\s*;",
    "cudnn": r"typedef\s+enum\s*\{([^{}]*?)\}\s*cudnnStatus_t\s*;",
}
JSON_KEY = {"cuda-runtime": "cuda_runtime", "cuda-driver": "cuda_driver", "nvrtc": "nvrtc",
            "cublas": "cublas", "cudnn": "cudnn"}
MAPS = {"cuda-runtime": RUNTIME_MAP, "cuda-driver": DRIVER_MAP, "nvrtc": NVRTC_MAP, "cublas": CUBLAS_MAP,
        "cudnn": CUDNN_MAP}

# ----------------------------------------------------------------------------------------------------------
# Libraries (ctypes)
# ----------------------------------------------------------------------------------------------------------

RANGES = {"cuda_runtime": list(range(0, 1100)) + [10000], "cuda_driver": list(range(0, 1100)),
          "nvrtc": range(0, 64), "cublas": range(0, 64), "cudnn": range(0, 10000), "nccl": range(0, 64)}
BOGUS = 0x5A5A5A


def _load(path: str, preload: tuple[str, ...] = ()) -> ctypes.CDLL:
    d = os.path.dirname(path)
    for pat in preload:  # siblings such as libcublasLt/libcudart that RPATH may not find
        for cand in sorted(glob.glob(os.path.join(d, pat))) + sorted(glob.glob(os.path.join(d, "..", "..", "*",
                                                                                          "lib", pat))):
            try:
                ctypes.CDLL(cand, mode=ctypes.RTLD_GLOBAL)
                break
            except OSError:
                continue
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


class Lib:
    """Calls the error-string functions of one library; None when the code is unknown to it."""

    def __init__(self, kind: str, path: str):
        self.kind, self.path = kind, path
        pre = ("libcublasLt.so*", "libcudart.so*") if kind == "cublas" else ()
        self.lib = _load(path, pre)
        self.version = ""
        if kind == "cuda_runtime":
            self.lib.cudaGetErrorString.restype = ctypes.c_char_p
            self.lib.cudaGetErrorName.restype = ctypes.c_char_p
            v = ctypes.c_int()
            if self.lib.cudaRuntimeGetVersion(ctypes.byref(v)) == 0:
                self.version = str(v.value)
        elif kind == "cuda_driver":
            v = ctypes.c_int()
            if self.lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
                self.version = str(v.value)
        elif kind == "nvrtc":
            self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            a, b = ctypes.c_int(), ctypes.c_int()
            if self.lib.nvrtcVersion(ctypes.byref(a), ctypes.byref(b)) == 0:
                self.version = f"{a.value}.{b.value}"
        elif kind == "cublas":
            self.lib.cublasGetStatusString.restype = ctypes.c_char_p
            self.lib.cublasGetStatusName.restype = ctypes.c_char_p
            try:
                self.lib.cublasGetVersion_v2.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
                v = ctypes.c_int()
                if self.lib.cublasGetVersion_v2(None, ctypes.byref(v)) == 0:
                    self.version = str(v.value)
            except AttributeError:
                pass
        elif kind == "cudnn":
            self.lib.cudnnGetErrorString.restype = ctypes.c_char_p
            self.lib.cudnnGetVersion.restype = ctypes.c_size_t
            self.version = str(self.lib.cudnnGetVersion())
        elif kind == "nccl":
            self.lib.ncclGetErrorString.restype = ctypes.c_char_p
            v = ctypes.c_int()
            if self.lib.ncclGetVersion(ctypes.byref(v)) == 0:
                self.version = str(v.value)
        self._unknown = self._raw(BOGUS)

    def _raw(self, code: int) -> tuple[str, str] | None:
        lib = self.lib
        if self.kind == "cuda_runtime":
            return lib.cudaGetErrorName(code).decode(), lib.cudaGetErrorString(code).decode()
        if self.kind == "cuda_driver":
            n, s = ctypes.c_char_p(), ctypes.c_char_p()
            if lib.cuGetErrorName(code, ctypes.byref(n)) != 0 or lib.cuGetErrorString(code, ctypes.byref(s)) != 0:
                return None
            return (n.value or b"").decode(), (s.value or b"").decode()
        if self.kind == "nvrtc":
            s = lib.nvrtcGetErrorString(code).decode()
            return s, s
        if self.kind == "cublas":
            return lib.cublasGetStatusName(code).decode(), lib.cublasGetStatusString(code).decode()
        if self.kind == "cudnn":
            s = lib.cudnnGetErrorString(code).decode()
            return s, s
        if self.kind == "nccl":
            return "", lib.ncclGetErrorString(code).decode()
        raise MineError(self.kind)

    def get(self, code: int) -> tuple[str, str] | None:
        r = self._raw(code)
        if r is None or r == self._unknown or (self._unknown and r[1] == self._unknown[1]):
            return None
        return r


SONAMES = {
    "cuda_driver": ["libcuda.so.1", "libcuda.so"],
    "cuda_runtime": ["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"],
    "nvrtc": ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
    "cublas": ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
    "cudnn": ["libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"],
    "nccl": ["libnccl.so.2", "libnccl.so"],
}
FIND = {"cuda_driver": "cuda", "cuda_runtime": "cudart", "nvrtc": "nvrtc", "cublas": "cublas",
        "cudnn": "cudnn", "nccl": "nccl"}


def candidate_paths(kind: str) -> list[str]:
    import site
    dirs = []
    try:
        dirs += site.getsitepackages()
    except AttributeError:
        pass
    try:
        dirs.append(site.getusersitepackages())
    except AttributeError:
        pass
    dirs += [p for p in sys.path if p.endswith("site-packages")]
    out: list[str] = []
    for d in dict.fromkeys(dirs):
        for so in SONAMES[kind]:
            out += sorted(glob.glob(os.path.join(d, "nvidia", "*", "lib", so)), reverse=True)
            out += sorted(glob.glob(os.path.join(d, "torch", "lib", so)), reverse=True)
    for so in SONAMES[kind]:
        out.append(so)  # the loader's own search (LD_LIBRARY_PATH, ldconfig)
    found = ctypes.util.find_library(FIND[kind])
    if found:
        out.append(found)
    for d in ("/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64",
              "/usr/lib/aarch64-linux-gnu"):
        for so in SONAMES[kind]:
            p = os.path.join(d, so)
            if os.path.exists(p):
                out.append(p)
    return list(dict.fromkeys(out))


def dump_strings(out_path: str, overrides: dict[str, str]) -> int:
    result: dict = {"_meta": {"host": platform.node(), "python": sys.version.split()[0], "libs": {}}}
    for kind in ("cuda_driver", "cuda_runtime", "nvrtc", "cublas", "cudnn", "nccl"):
        paths = [overrides[kind]] if kind in overrides else candidate_paths(kind)
        lib = None
        errors = []
        for p in paths:
            try:
                lib = Lib(kind, p)
                break
            except Exception as exc:  # noqa: BLE001 - OSError, AttributeError, ctypes errors
                errors.append(f"{p}: {exc}")
        if lib is None:
            result["_meta"]["libs"][kind] = {"error": "not found", "tried": paths[:12], "errors": errors[:12]}
            print(f"{kind}: no library ({len(paths)} tried)", file=sys.stderr)
            continue
        table = {}
        names = nccl_names(lib.path) if kind == "nccl" else {}
        for code in RANGES[kind]:
            try:
                r = lib.get(code)
            except Exception as exc:  # noqa: BLE001 - a broken library must not stop the other dumps
                print(f"{kind}: code {code}: {exc}", file=sys.stderr)
                continue
            if r is not None:
                table[str(code)] = [r[0] or names.get(code, ""), r[1]]
        result[kind] = table
        result["_meta"]["libs"][kind] = {"path": lib.path, "resolved": _resolved(lib.path), "version": lib.version}
        print(f"{kind}: {len(table)} codes from {lib.path} (version {lib.version})", file=sys.stderr)
    Path(out_path).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def nccl_names(libpath: str) -> dict[int, str]:
    """ncclResult_t names from the nccl.h shipped next to the library (nvidia-nccl wheels), if any."""
    real = _resolved(libpath)
    for hdr in (os.path.join(os.path.dirname(real), "..", "include", "nccl.h"), "/usr/include/nccl.h",
                "/usr/local/include/nccl.h"):
        try:
            vals = parse_c_enum(Path(hdr).read_text(encoding="utf-8"),
                                r"typedef\s+enum\s*\{([^{}]*?)\}\s*ncclResult_t\s*;", hdr)
            return {v: n for n, v in vals if n != "ncclNumResults"}
        except (OSError, MineError):
            continue
    return {}


def _resolved(path: str) -> str:
    if os.path.isabs(path):
        return os.path.realpath(path)
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            base = os.path.basename(path)
            for line in fh:
                if base in line:
                    return line.split()[-1]
    except OSError:
        pass
    return path

# ----------------------------------------------------------------------------------------------------------
# Building entries
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    name: str
    code: int | None = None
    text: str | None = None
    cause: str = ""
    role: str = "root"
    severity: str = "error"
    patterns: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    example_sources: list[str] = field(default_factory=list)
    note: str = ""
    provisional: bool = False  # text borrowed from another vocabulary, not from this library


def split_label(spec: str, what: str) -> tuple[str, str]:
    if "=" not in spec:
        raise MineError(f"{what}: expected LABEL=PATH, got {spec!r}")
    label, path = spec.split("=", 1)
    return label, path


def fill(fmt_id: str, **kw) -> tuple[str, str] | None:
    fmt, src = FMT[fmt_id]
    try:
        line = fmt.format(**kw)
    except KeyError:
        return None
    return line.rstrip(), src


def esc_alt(s: str) -> str:
    return re.escape(s).replace("\\ ", " ")


def build_enum(vid: str, headers: list[tuple[str, str]], libs: list[tuple[str, str]], strings: dict | None,
               problems: list[str]) -> tuple[list[Entry], dict]:
    members: dict[str, dict] = {}
    order: list[str] = []
    primary = headers[0][0]
    for label, path in headers:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        for name, val in parse_c_enum(text, ENUM_RE[vid], path):
            if name in members:
                if members[name]["code"] != val:
                    raise MineError(f"{vid}: {name} = {members[name]['code']} in {members[name]['labels'][0]} "
                                    f"but {val} in {label}")
                members[name]["labels"].append(label)
            else:
                members[name] = {"code": val, "labels": [label]}
                order.append(name)
    loaded: list[tuple[str, Lib]] = []
    for label, path in libs:
        try:
            loaded.append((label, Lib(JSON_KEY[vid], path)))
        except (OSError, AttributeError) as exc:
            print(f"warning: {vid}: cannot load {path}: {exc}", file=sys.stderr)
    jtab = (strings or {}).get(JSON_KEY[vid], {})
    jlabel = "device run (--strings)"
    mapping = MAPS[vid]
    unmapped = [n for n in order if n not in mapping]
    if unmapped:
        problems += [f"{vid}: no mapping for {n} = {members[n]['code']}" for n in unmapped]
    for stale in sorted(set(mapping) - set(members)):
        print(f"warning: {vid}: mapping row {stale} matches no enum value in the given headers", file=sys.stderr)
    first_for_code: dict[int, str] = {}
    entries: list[Entry] = []
    for name in sorted(order, key=lambda n: (members[n]["code"], order.index(n))):
        code = members[name]["code"]
        labels = members[name]["labels"]
        m = mapping.get(name, M("unknown-failure"))
        e = Entry(name=name, code=code, cause=m.cause, role=m.role, severity=m.sev())
        notes = [m.note] if m.note else []
        notes.append(provenance(primary, labels, [lab for lab, _ in headers]))
        alias_of = first_for_code.get(code)
        if alias_of is None:
            first_for_code[code] = name
            cands: list[tuple[str, str]] = []  # (string, where)
            for label, lib in loaded:
                r = lib.get(code)
                if r and r[0] in (name, r[1]) or (r and vid in ("nvrtc", "cudnn")):
                    cands.append((r[1], f"{lib.path} ({label})"))
            if str(code) in jtab:
                jn, js = jtab[str(code)]
                if jn in ("", name) or vid in ("nvrtc", "cudnn"):
                    cands.append((js, jlabel))
            texts = list(dict.fromkeys(s for s, _ in cands if s))
            if texts:
                e.text = texts[0]
                for alt in texts[1:]:
                    if len(alt) >= 30:
                        e.patterns.append(esc_alt(alt))
                        notes.append(f"Older/other releases print \"{alt}\".")
        else:
            notes.append(f"Deprecated alias of {alias_of} (same value {code}).")
            e.patterns.append(rf"\b{re.escape(name)}\b")
            e.code = None  # matched by its name only: a numeric code is looked up as the value's first name
        e.note = join_notes(notes)
        entries.append(e)
    info = {"primary": primary, "labels": [lab for lab, _ in headers],
            "libs": [(lab, lib.path, lib.version) for lab, lib in loaded], "json": bool(jtab),
            "counts": {lab: sum(1 for n in order if lab in members[n]["labels"]) for lab, _ in headers}}
    return entries, info


def vkey(label: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", label.split("-")[0])) or (0,)


def provenance(primary: str, labels: list[str], all_labels: list[str]) -> str:
    """Which of the given releases have this value (empty when all of them do)."""
    missing = [lab for lab in all_labels if lab not in labels]
    if not missing:
        return ""
    miss = ", ".join(sorted(missing, key=vkey))
    if all(vkey(lab) < min(vkey(x) for x in labels) for lab in missing):
        return f"Added after {max(missing, key=vkey)} (not in {miss} of the releases read)."
    if all(vkey(lab) > max(vkey(x) for x in labels) for lab in missing):
        return f"Removed after {max(labels, key=vkey)} (not in {miss} of the releases read)."
    return f"Present in {', '.join(sorted(labels, key=vkey))}; absent from {', '.join(sorted(missing, key=vkey))}."


def join_notes(notes: list[str]) -> str:
    """Join note sentences; a 'proposed = ...' request goes last so it stays readable."""
    parts, proposed = [], []
    for n in notes:
        if not n:
            continue
        i = n.find("proposed = ")
        if i >= 0:
            parts.append(n[:i].strip())
            proposed.append(n[i:].strip())
        else:
            parts.append(n.strip())
    return " ".join(p for p in parts + proposed if p)


def add_examples(vid: str, entries: list[Entry]) -> None:
    spec = EXAMPLES.get(vid, {})
    for e in entries:
        for fmt_id, kw in spec.get(e.name, []):
            if "{text}" in FMT[fmt_id][0] and (not e.text or e.provisional):
                continue
            r = fill(fmt_id, text=e.text, name=e.name, code=e.code, **kw)
            if r and r[0] not in e.examples:
                e.examples.append(r[0])
                e.example_sources.append(r[1])


def driver_provisional(entries: list[Entry], runtime: list[Entry], problems: list[str]) -> int:
    """Driver entries without a cuGetErrorString string: borrow the runtime string of the same error."""
    rt_by_code = {e.code: e for e in runtime if e.text}
    n = 0
    for e in entries:
        if e.text:
            continue
        r = rt_by_code.get(e.code)
        if r is not None and r.cause == e.cause:
            e.text = r.text
            e.provisional = True
            e.note = join_notes([e.note, f"Text provisional: the runtime string of {r.name} (same code); "
                                         "confirm with cuGetErrorString."])
            n += 1
        else:
            e.patterns.append(rf"\b{re.escape(e.name)}\b")
            e.note = join_notes([e.note, "No driver string known yet: matched by name only."])
    return n


# ----------------------------------------------------------------------------------------------------------
# Xid
# ----------------------------------------------------------------------------------------------------------


def read_xid_catalog(path: str) -> dict[int, dict]:
    p = Path(path)
    raw = p.read_text(encoding="utf-8", errors="replace")
    out: dict[int, dict] = {}
    if p.suffix == ".json":
        for row in json.loads(raw):
            out[int(row["code"])] = {k: row.get(k, "") for k in ("mnemonic", "description", "immediate",
                                                                 "investigatory")}
    elif p.suffix == ".csv":
        for row in csv.DictReader(raw.splitlines()):
            keys = {k.lower().strip(): k for k in row if k}
            code = row.get(keys.get("code", ""), "").strip()
            if not code.isdigit():
                continue
            imm = next((row[v] for k, v in keys.items() if "immediate" in k), "")
            inv = next((row[v] for k, v in keys.items() if "investigatory" in k), "")
            out[int(code)] = {"mnemonic": row.get(keys.get("mnemonic", ""), ""),
                              "description": row.get(keys.get("description", ""), ""),
                              "immediate": imm, "investigatory": inv}
    else:  # Go table generated by leptonai/gpud from the same spreadsheet
        rx = re.compile(r'\{Code: (\d+), Mnemonic: ("(?:[^"\\]|\\.)*"), Description: ("(?:[^"\\]|\\.)*"), '
                        r'ImmediateResolution: ("(?:[^"\\]|\\.)*"), InvestigatoryResolution: ("(?:[^"\\]|\\.)*")\}')
        for m in rx.finditer(raw):
            code, mn, de, im, iv = m.groups()
            out[int(code)] = {"mnemonic": json.loads(mn), "description": json.loads(de),
                              "immediate": json.loads(im), "investigatory": json.loads(iv)}
    if not out:
        raise MineError(f"{path}: no Xid rows found")
    return out


def read_nverror(path: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for m in re.finditer(r"^#define\s+([A-Z][A-Z0-9_]+)\s+\((\d+)\)", Path(path).read_text(encoding="utf-8"),
                         re.M):
        name, code = m.group(1), int(m.group(2))
        if name.startswith("ROBUST_CHANNEL_ERROR_RECOVERY_LEVEL") or name == "ROBUST_CHANNEL_LAST_ERROR":
            continue
        out.setdefault(code, []).append(name)
    return out


def build_xid(catalog: dict[int, dict], nverror: dict[int, list[str]], problems: list[str]) -> list[Entry]:
    codes = sorted(set(catalog) | set(nverror))
    for c in codes:
        if c not in XID_MAP:
            desc = catalog.get(c, {}).get("description", "")
            problems.append(f"xid: no mapping for Xid {c} ({(catalog.get(c) or {}).get('mnemonic') or nverror[c]}"
                            f": {desc!r})")
    for stale in sorted(set(XID_MAP) - set(codes)):
        print(f"warning: xid: mapping row {stale} matches no Xid in the sources", file=sys.stderr)
    entries = []
    for c in codes:
        cat = catalog.get(c)
        names = [n.strip() for n in re.split(r"[/\n]", cat["mnemonic"]) if n.strip()] if cat else []
        for n in nverror.get(c, []):
            if n not in names:
                names.append(n)
        m = XID_MAP.get(c, M("unknown-failure"))
        e = Entry(name=names[0], code=c, cause=m.cause, role=m.role, severity=m.sev())
        e.patterns.append(r"\bXid \((?:PCI:)?(?P<device>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})[^)]*\): "
                          + str(c) + r"\b")
        e.patterns.append(r"\bXidCriticalError: Xid=" + str(c) + r"\b")
        for alias in names[1:]:
            e.patterns.append(rf"\b{re.escape(alias)}\b")
        e.patterns += XID_EXTRA_PATTERNS.get(c, [])
        e.text = XID_TEXT.get(c)
        notes = [m.note] if m.note else []
        if cat:
            desc = " ".join(cat["description"].split())
            facts = [f"Catalogue: \"{desc}\"" if len(desc) <= 60 else "Catalogue: see its description"]
            if cat.get("immediate"):
                facts.append(f"immediate action {' '.join(cat['immediate'].split())}")
            if cat.get("investigatory"):
                facts.append(f"investigatory action {' '.join(cat['investigatory'].split())}")
            notes.append("; ".join(facts) + ".")
        else:
            notes.append("Not in the published catalogue yet; defined in nverror.h of the open GPU kernel "
                         "modules.")
        if len(names) > 1:
            notes.append(f"Also named {', '.join(names[1:])}.")
        e.note = join_notes(notes)
        for item in XID_EXAMPLES.get(c, []):
            if item[0] in FMT:
                r = fill(item[0], code=c, **item[1])
            else:
                r = item
            if r:
                e.examples.append(r[0])
                e.example_sources.append(r[1])
        entries.append(e)
    return entries


# ----------------------------------------------------------------------------------------------------------
# TOML output
# ----------------------------------------------------------------------------------------------------------


def q(s: str) -> str:
    if "'" not in s and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in s):
        return "'" + s + "'"
    out = s.replace("\\", "\\\\").replace('"', '\\"')
    out = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", out)
    return '"' + out + '"'


def qs(s: str) -> str:  # prose: a basic string reads better in the file
    out = s.replace("\\", "\\\\").replace('"', '\\"')
    out = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", out)
    return '"' + out + '"'


def qlist(items: list[str], prose: bool = False) -> str:
    f = qs if prose else q
    if not items:
        return "[]"
    one = "[" + ", ".join(f(i) for i in items) + "]"
    if len(one) < 100:
        return one
    return "[\n" + "".join(f"  {f(i)},\n" for i in items) + "]"


def write_toml(path: Path, head: dict, entries: list[Entry]) -> None:
    lines = ["# Generated by tools/mine_cuda_vocab.py: edit the mapping tables in the script, not this file.",
             "schema = 1", "", "[vocab]"]
    for k in ("id", "title", "component", "kind", "source", "source_url", "source_count", "generated_by",
              "contexts", "code_patterns", "note"):
        if k not in head or head[k] in (None, "", []):
            continue
        v = head[k]
        if isinstance(v, int):
            lines.append(f"{k} = {v}")
        elif isinstance(v, list):
            lines.append(f"{k} = {qlist(v)}")
        else:
            lines.append(f"{k} = {qs(v)}")
    for e in entries:
        lines += ["", "[[entry]]", f"name = {qs(e.name)}"]
        if e.code is not None:
            lines.append(f"code = {e.code}")
        if e.text:
            lines.append(f"text = {qs(e.text)}")
        lines.append(f"cause = {qs(e.cause)}")
        if e.role != "root":
            lines.append(f"role = {qs(e.role)}")
        if e.severity != "error":
            lines.append(f"severity = {qs(e.severity)}")
        if e.patterns:
            lines.append(f"patterns = {qlist(e.patterns)}")
        if e.examples:
            lines.append(f"examples = {qlist(e.examples, prose=True)}")
            lines.append(f"example_sources = {qlist(e.example_sources, prose=True)}")
        if e.note:
            lines.append(f"note = {qs(e.note)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------------------------
# Vocabulary heads
# ----------------------------------------------------------------------------------------------------------


def libdesc(info: dict, fn: str) -> str:
    parts = []
    for lab, path, ver in info["libs"]:
        parts.append(f"{os.path.basename(path)} {lab}" + (f" (version {ver})" if ver else ""))
    s = f"; strings from {fn}() of " + ", ".join(parts) if parts else ""
    if info["json"]:
        s += f"; strings from {fn}() on the device run (--strings)"
    return s


def releases(info: dict) -> str:
    c = info["counts"]
    p = info["primary"]
    others = [f"{lab} ({c[lab]})" for lab in info["labels"][1:]]
    return f"{p} ({c[p]} values)" + (", union with " + ", ".join(others) if others else "")


def head_for(vid: str, info: dict, n: int, provisional: int = 0) -> dict:
    if vid == "cuda-runtime":
        return {"id": vid, "title": "CUDA runtime API errors (cudaError_t)", "component": "cuda", "kind": "enum",
                "source": f"CUDA driver_types.h enum cudaError, releases {releases(info)}"
                          + libdesc(info, "cudaGetErrorString"),
                "source_url": "https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html",
                "source_count": n, "generated_by": GENERATED_BY, "contexts": CUDA_CONTEXTS,
                "code_patterns": [r"\bcode=(?P<code>\d+)\((?:cuda[A-Z]|[a-z])",
                                  r"\bcuda runtime error \((?P<code>\d+)\)",
                                  r"\bTHCudaCheck FAIL file=\S+ line=\d+ error=(?P<code>\d+) :",
                                  r"NumCudaDevices\(\) that might have already set an error\? Error (?P<code>\d+):",
                                  r"(?i)\bcuda error (?P<code>\d{1,5})\b"],
                "note": "A name (cudaErrorX) matches alone; a string needs a CUDA context on its line. Some "
                        "strings are substrings of others (\"operation not permitted\" / \"... when stream is "
                        "capturing\", \"unspecified launch failure\" / \"... in prior launch\", \"operation not "
                        "supported\" / \"OS call failed or operation not supported on this OS\"): prefer the "
                        "longest match. \"CUDA error N\" is also printed for driver codes by some programs."}
    if vid == "cuda-driver":
        prov = (f" {provisional} strings are provisional (the runtime string of the same code) until "
                "regenerated with --strings from a machine with libcuda.") if provisional else ""
        return {"id": vid, "title": "CUDA driver API errors (CUresult)", "component": "cuda", "kind": "enum",
                "source": f"CUDA cuda.h enum cudaError_enum, releases {releases(info)}"
                          + libdesc(info, "cuGetErrorString") + "." + prov,
                "source_url": "https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html",
                "source_count": n, "generated_by": GENERATED_BY, "contexts": CUDA_CONTEXTS,
                "code_patterns": [r"\bCuda failure (?P<code>\d+) '", r"\bcode=(?P<code>\d+)\(CUDA_ERROR_"],
                "note": "NCCL prints driver failures as \"Cuda failure <code> '<string>'\"; TensorRT-LLM as "
                        "\"CUDA driver error in <call>: <name>\"; PyTorch as \"CUDA driver error: <string>\"."}
    if vid == "nvrtc":
        return {"id": vid, "title": "NVRTC runtime-compilation errors (nvrtcResult)", "component": "nvrtc",
                "kind": "enum", "source": f"CUDA nvrtc.h enum nvrtcResult, releases {releases(info)}"
                                          + libdesc(info, "nvrtcGetErrorString"),
                "source_url": "https://docs.nvidia.com/cuda/nvrtc/index.html",
                "source_count": n, "generated_by": GENERATED_BY, "contexts": [r"(?i)\bnvrtc"],
                "note": "nvrtcGetErrorString returns the enum name itself."}
    if vid == "cublas":
        return {"id": vid, "title": "cuBLAS status codes (cublasStatus_t)", "component": "cublas", "kind": "enum",
                "source": f"cuBLAS cublas_api.h enum cublasStatus_t, releases {releases(info)}"
                          + libdesc(info, "cublasGetStatusString"),
                "source_url": "https://docs.nvidia.com/cuda/cublas/index.html#cublasstatus-t",
                "source_count": n, "generated_by": GENERATED_BY, "contexts": [r"(?i)cublas"],
                "note": "Most programs print the name (CUBLAS_STATUS_X); cublasGetStatusString's sentence "
                        "appears where libraries use it."}
    if vid == "cudnn":
        return {"id": vid, "title": "cuDNN status codes (cudnnStatus_t)", "component": "cudnn", "kind": "enum",
                "source": f"cuDNN cudnn_graph.h enum cudnnStatus_t, releases {releases(info)}"
                          + libdesc(info, "cudnnGetErrorString"),
                "source_url": "https://docs.nvidia.com/deeplearning/cudnn/latest/api/cudnn-graph-library.html",
                "source_count": n, "generated_by": GENERATED_BY, "contexts": [r"(?i)cudnn"],
                "note": "cudnnGetErrorString returns the enum name. cuDNN 8 used other numeric values (e.g. "
                        "BAD_PARAM = 3), so no numeric look-up is offered; the cuDNN 8 names survive as "
                        "deprecated aliases."}
    raise MineError(vid)


def xid_head(n: int, cat_path: str | None, nverror_path: str | None, ncat: int, nnv: int) -> dict:
    src = ["NVIDIA Xid catalogue (docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html, sheet "
           f"\"Catalog\", {ncat} codes"]
    if cat_path:
        src[0] += f", read from {os.path.basename(cat_path)}"
    src[0] += ")"
    if nverror_path:
        src.append(f"nverror.h of NVIDIA/open-gpu-kernel-modules ({nnv} codes, {os.path.basename(nverror_path)})")
    return {"id": "xid", "title": "NVIDIA driver Xid error codes (kernel log)", "component": "driver",
            "kind": "enum", "source": " + ".join(src),
            "source_url": "https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html",
            "source_count": n, "generated_by": GENERATED_BY,
            "contexts": [r"\bNVRM: Xid\b", r"\bXidCriticalError\b"],
            "code_patterns": [r"\bNVRM: Xid \([^)]*\): (?P<code>\d+),", r"\bXidCriticalError: Xid=(?P<code>\d+)"],
            "note": "Kernel log form (dmesg/journalctl): NVRM: Xid (PCI:<domain:bus:dev>): <code>, pid=<pid>, "
                    "name=<process>, <message>. Each entry matches its own code; the device group captures "
                    "the PCI address. Names are NVIDIA's mnemonics."}


# ----------------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for v in ("runtime", "driver", "nvrtc", "cublas", "cudnn"):
        ap.add_argument(f"--{v}-header", action="append", default=[], metavar="LABEL=PATH")
        ap.add_argument(f"--{v}-lib", action="append", default=[], metavar="LABEL=PATH")
    ap.add_argument("--xid-catalog")
    ap.add_argument("--nverror")
    ap.add_argument("--strings")
    ap.add_argument("--preload", action="append", default=[], metavar="PATH",
                    help="load this library RTLD_GLOBAL first (e.g. the libcudart a libcublas needs)")
    ap.add_argument("--out", default=str(ROOT / "rules" / "vocab"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--dump-strings", metavar="OUT.json")
    ap.add_argument("--lib", action="append", default=[], metavar="KIND=PATH", help="for --dump-strings")
    a = ap.parse_args(argv)
    for pre in a.preload:
        ctypes.CDLL(pre, mode=ctypes.RTLD_GLOBAL)
    if a.dump_strings:
        return dump_strings(a.dump_strings, dict(split_label(s, "--lib") for s in a.lib))
    if not a.runtime_header:
        a.runtime_header = ["13.0=/usr/local/cuda/include/driver_types.h"]
    if not a.runtime_lib and os.path.exists("/usr/local/cuda/lib64/libcudart.so.13"):
        a.runtime_lib = ["13.0=/usr/local/cuda/lib64/libcudart.so.13"]
    if not a.driver_header:
        a.driver_header = ["13.0=/usr/local/cuda/include/cuda.h"]
    strings = json.loads(Path(a.strings).read_text(encoding="utf-8")) if a.strings else None
    out = Path(a.out)
    want = set(a.only) or {"cuda-runtime", "cuda-driver", "nvrtc", "cublas", "cudnn", "xid"}
    problems: list[str] = []
    built: dict[str, tuple[list[Entry], dict]] = {}
    srcs = {"cuda-runtime": ("runtime", a.runtime_header, a.runtime_lib),
            "cuda-driver": ("driver", a.driver_header, a.driver_lib),
            "nvrtc": ("nvrtc", a.nvrtc_header, a.nvrtc_lib), "cublas": ("cublas", a.cublas_header, a.cublas_lib),
            "cudnn": ("cudnn", a.cudnn_header, a.cudnn_lib)}
    try:
        need = set(want)
        if "cuda-driver" in want:
            need.add("cuda-runtime")  # provisional driver strings come from the runtime
        for vid, (flag, hdrs, libs) in srcs.items():
            if vid not in need:
                continue
            if not hdrs:
                print(f"skip {vid}: no --{flag}-header given", file=sys.stderr)
                want.discard(vid)
                continue
            built[vid] = build_enum(vid, [split_label(h, f"--{flag}-header") for h in hdrs],
                                    [split_label(x, f"--{flag}-lib") for x in libs], strings, problems)
        xid_entries = None
        if "xid" in want:
            if not (a.xid_catalog or a.nverror):
                print("skip xid: no --xid-catalog/--nverror given", file=sys.stderr)
                want.discard("xid")
            else:
                cat = read_xid_catalog(a.xid_catalog) if a.xid_catalog else {}
                nve = read_nverror(a.nverror) if a.nverror else {}
                xid_entries = build_xid(cat, nve, problems)
    except MineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problems:
        print("error: the source has entries the curated mapping does not know; add them to the tables in "
              f"{GENERATED_BY}:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    provisional = 0
    if "cuda-driver" in built:
        provisional = driver_provisional(built["cuda-driver"][0], built["cuda-runtime"][0], problems)
    for vid in ("cuda-runtime", "cuda-driver", "nvrtc", "cublas", "cudnn"):
        if vid not in want or vid not in built:
            continue
        entries, info = built[vid]
        add_examples(vid, entries)
        head = head_for(vid, info, len(entries), provisional if vid == "cuda-driver" else 0)
        write_toml(out / f"{vid}.toml", head, entries)
        report(vid, entries)
    if xid_entries is not None:
        cat = read_xid_catalog(a.xid_catalog) if a.xid_catalog else {}
        nve = read_nverror(a.nverror) if a.nverror else {}
        write_toml(out / "xid.toml", xid_head(len(xid_entries), a.xid_catalog, a.nverror, len(cat), len(nve)),
                   xid_entries)
        report("xid", xid_entries)
    return 0


def report(vid: str, entries: list[Entry]) -> None:
    n = len(entries)
    unk = sum(1 for e in entries if e.cause == "unknown-failure")
    ben = sum(1 for e in entries if e.role == "benign")
    con = sum(1 for e in entries if e.role == "consequence")
    txt = sum(1 for e in entries if e.text)
    ex = sum(1 for e in entries if e.examples)
    print(f"{vid}: {n} entries, {n - unk} mapped to a specific cause ({100 * (n - unk) / n:.0f}%), "
          f"{ben} benign, {con} consequence, {txt} with text, {ex} with examples", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
