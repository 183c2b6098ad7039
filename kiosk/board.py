"""Facts about the machine the kiosk runs on, read once from the OS; no policy here (kiosk.checks judges)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def is_jetson() -> bool:
    """An NVIDIA Jetson (L4T): the appliance, where a missing screen, speaker or GPU is a failure."""
    return Path("/etc/nv_tegra_release").exists() or "tegra" in platform.release()


GPU_NODES = ("/dev/nvmap", "/dev/nvhost-gpu", "/dev/nvhost-ctrl-gpu", "/dev/nvgpu/igpu0/ctrl", "/dev/dri/renderD128")
"""Device nodes CUDA on Tegra opens (nvmap, nvhost/nvgpu) and the DRM render node (GL); which exist varies by L4T."""


def gpu_nodes() -> dict[str, bool]:
    """Each GPU device node that exists, and whether this process may open it read-write: inside the service a
    sandbox option can hide or deny them (issue 14: ProtectClock on systemd < 252 denied every device)."""
    return {node: os.access(node, os.R_OK | os.W_OK) for node in GPU_NODES if os.path.exists(node)}


def llm_gpu_offload() -> bool | None:
    """Whether the installed llama.cpp build can offload layers to a GPU (None: llama-cpp-python absent)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return bool(llama_cpp.llama_supports_gpu_offload())


def has_display(env: dict[str, str] | None = None) -> bool:
    """An X or Wayland display to open a window on."""
    env = dict(os.environ) if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
