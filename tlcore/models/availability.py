"""Can pretrained weights be had without waiting: already in a local cache, or the hub reachable right now.

Nothing here downloads. The catalogue's ``offline`` flags come from these checks, and the timm adapter probes the
hub before a download so that an unreachable hub fails in seconds instead of after the client's retries.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import timm.models
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache
from torchvision import models as tv_models

from tlcore.errors import WeightsUnavailable
from tlcore.models.efficientnet_lite import OFFLINE_HINT

PROBE_TIMEOUT_S = 3.0  # connect timeout when checking that the hub is reachable


def timm_weights_cached(arch: str) -> bool:
    """Whether timm would find this model's default pretrained weights without a download."""
    cfg = timm.models.get_pretrained_cfg(arch)
    if cfg is None:
        return False
    if cfg.hf_hub_id:  # timm prefers the hub whenever the model has a hub id
        repo_id, _, revision = cfg.hf_hub_id.partition("@")
        for filename in ("model.safetensors", "pytorch_model.bin"):
            if isinstance(try_to_load_from_cache(repo_id, filename, revision=revision or None), str):
                return True
        return False
    if cfg.url:
        return torch_hub_checkpoint(cfg.url).is_file()
    return bool(cfg.file) and Path(cfg.file).is_file()


def torchvision_weights_cached(arch: str) -> bool:
    """Whether the ``DEFAULT`` weights of a torchvision model are in torch hub's checkpoint folder."""
    weights = tv_models.get_model_weights(arch).DEFAULT
    return torch_hub_checkpoint(weights.url).is_file()


def torch_hub_checkpoint(url: str) -> Path:
    """Where torch hub keeps the checkpoint downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def check_hub_reachable(name: str) -> None:
    """Fail fast when the hub cannot be reached (its client would otherwise retry for about a minute).

    Raises:
        WeightsUnavailable: the hub is set to offline (``HF_HUB_OFFLINE``) or a connection to it fails.
    """
    if hf_constants.HF_HUB_OFFLINE:
        raise WeightsUnavailable(
            f"Backbone '{name}': its weights are not in the local Hugging Face cache and the hub is set to offline "
            f"(HF_HUB_OFFLINE); {OFFLINE_HINT}."
        )
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # a direct probe says nothing about a proxied connection
    endpoint = urlparse(hf_constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as e:
        raise WeightsUnavailable(
            f"Backbone '{name}': its weights are not cached on this machine and {endpoint.hostname} cannot be "
            f"reached ({e}); {OFFLINE_HINT}."
        ) from e
