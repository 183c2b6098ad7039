"""Facts about the machine the kiosk runs on, read once from the OS; no policy here (kiosk.checks judges)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def is_jetson() -> bool:
    """An NVIDIA Jetson (L4T): the appliance, where a missing screen, speaker or GPU is a failure."""
    return Path("/etc/nv_tegra_release").exists() or "tegra" in platform.release()


CUDA_NODES = ("/dev/nvidia0", "/dev/nvmap", "/dev/nvhost-gpu", "/dev/nvhost-ctrl-gpu", "/dev/nvgpu/igpu0/ctrl")
"""Device nodes CUDA opens: a discrete GPU's, or Tegra's (nvmap, nvhost/nvgpu; which exist varies by L4T)."""
GPU_NODES = (*CUDA_NODES, "/dev/dri/renderD128")  # and the DRM render node (GL)


def cuda_device() -> bool:
    """A CUDA device node exists on this machine (whether this process may open it: gpu_nodes)."""
    return any(os.path.exists(node) for node in CUDA_NODES)


def gpu_nodes() -> dict[str, bool]:
    """Each GPU device node that exists, and whether this process may open it read-write: inside the service a
    sandbox option can hide or deny them (issue 14: ProtectClock on systemd < 252 denied every device)."""
    return {node: os.access(node, os.R_OK | os.W_OK) for node in GPU_NODES if os.path.exists(node)}


def llm_gpu_offload() -> bool | None:
    """Whether the installed llama.cpp build can offload layers to a GPU (None: llama-cpp-python absent or
    broken)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # noqa: BLE001 - an unimportable or broken build is reported by the package check
        return None


def has_display(env: dict[str, str] | None = None) -> bool:
    """An X or Wayland display to open a window on."""
    env = dict(os.environ) if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
