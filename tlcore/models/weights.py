"""Model weights on disk: safetensors with JSON metadata for our own files, safe loading of users' files.

Nothing here ever unpickles arbitrary objects: our files are safetensors (tensors + a JSON string), and users'
``.pt/.pth/.bin`` files are read with ``torch.load(weights_only=True)``. A file that needs more than that is
refused with :class:`~tlcore.errors.UnsafeModelFile`; we never retry with ``weights_only=False``. Architecture
names found in metadata are checked against the backbones we know (:mod:`tlcore.models.registry`); they are never
imported or evaluated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from tlcore.atomic import atomic_write_bytes
from tlcore.errors import UnsafeModelFile, WeightsUnavailable
from tlcore.models.registry import is_known_backbone

log = logging.getLogger(__name__)

METADATA_KEY = "tlcore"
ARCHITECTURE_KEYS = ("backbone", "architecture")  # metadata entries that name an architecture
TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")


def validate_architecture(name: Any) -> str:
    """Return ``name`` if it is a backbone we know (catalogue, ``timm/<model>``, ``torchvision/<model>``).

    Raises:
        UnsafeModelFile: anything else; the name is only compared with known names, never imported.
    """
    if not isinstance(name, str) or not is_known_backbone(name):
        raise UnsafeModelFile(
            f"Architecture {name!r} is not one we know; use efficientnet_lite0/1/2, 'timm/<model>' or "
            "'torchvision/<model>'."
        )
    return name


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor], metadata: dict) -> Path:
    """Atomically write ``state_dict`` as safetensors, with ``metadata`` as JSON under the ``tlcore`` key.

    Raises:
        UnsafeModelFile: ``metadata`` names an architecture (``backbone``/``architecture``) we do not know.
    """
    return atomic_write_bytes(path, weights_bytes(state_dict, metadata))


def weights_bytes(state_dict: dict[str, torch.Tensor], metadata: dict) -> bytes:
    """The safetensors file :func:`save_weights` writes, as bytes (hash them with :func:`sha256_hex`).

    Raises:
        UnsafeModelFile: ``metadata`` names an architecture (``backbone``/``architecture``) we do not know.
    """
    for key in ARCHITECTURE_KEYS:
        if key in metadata:
            validate_architecture(metadata[key])
    tensors: dict[str, torch.Tensor] = {}
    seen_storage: set[int] = set()
    for name, tensor in state_dict.items():
        t = tensor.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen_storage and t.numel() > 0:  # safetensors refuses shared storage (tied weights): copy
            t = t.clone()
        seen_storage.add(t.untyped_storage().data_ptr())
        tensors[name] = t
    return safetensors.torch.save(tensors, metadata={METADATA_KEY: json.dumps(metadata)})


def sha256_hex(data: bytes) -> str:
    """The sha256 hex digest of ``data`` (what a run records of its weights file)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes, read in blocks.

    Raises:
        WeightsUnavailable: the file is missing or unreadable.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise WeightsUnavailable(f"Weights file {Path(path).name} cannot be read ({e.strerror or e}).") from e
    return digest.hexdigest()


def check_fits(state_dict: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], name: str) -> None:
    """Check that ``state_dict`` has exactly the tensor names and shapes of ``expected`` (a model's state dict), and
    only finite values, before ``load_state_dict`` is asked to take it.

    Raises:
        WeightsUnavailable: naming the file ``name``, the first tensor and the problem.
    """
    missing = [k for k in expected if k not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    if missing or extra:
        what = f"lacks tensor {missing[0]!r}" if missing else f"holds tensor {extra[0]!r} the model does not have"
        raise WeightsUnavailable(f"Weights file {name} does not fit the model its metadata describes: it {what} "
                                 f"({len(missing)} missing, {len(extra)} unexpected).")
    for key, tensor in state_dict.items():
        want = tuple(expected[key].shape)
        if tuple(tensor.shape) != want:
            raise WeightsUnavailable(f"Weights file {name} does not fit the model its metadata describes: tensor "
                                     f"{key!r} has shape {list(tensor.shape)}, the model needs {list(want)}.")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsUnavailable(f"Weights file {name} is damaged: tensor {key!r} holds NaN or infinite values.")


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`save_weights`; return ``(state_dict, metadata)``.

    Raises:
        WeightsUnavailable: the file is missing or not a safetensors file.
        UnsafeModelFile: its metadata names an architecture we do not know.
    """
    path = Path(path)
    state_dict, raw = _read_safetensors(path)
    try:
        metadata = json.loads(raw.get(METADATA_KEY, "{}"))
    except json.JSONDecodeError as e:
        raise WeightsUnavailable(f"Weights file {path.name}: its metadata is not valid JSON ({e}).") from e
    if not isinstance(metadata, dict):
        raise WeightsUnavailable(f"Weights file {path.name}: its metadata is not a JSON object.")
    for key in ARCHITECTURE_KEYS:
        if key in metadata:
            validate_architecture(metadata[key])
    return state_dict, metadata


def load_user_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a user's state dict from ``.safetensors`` or ``.pt/.pth/.bin`` without unsafe unpickling.

    Checkpoints that wrap the weights under ``state_dict``/``model`` are unwrapped and a DataParallel
    ``module.`` prefix is removed.

    Raises:
        UnsafeModelFile: the file needs unpickling beyond plain tensors (e.g. a whole pickled model or code).
        WeightsUnavailable: the file is missing, of an unknown type, corrupt, or holds no tensors.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        state, raw = _read_safetensors(path)
        if METADATA_KEY in raw:  # one of our own files: its architecture name must be one we know
            load_weights(path)
        return _strip_prefix(state)
    if suffix not in TORCH_SUFFIXES:
        raise WeightsUnavailable(
            f"Weights file {path.name}: unsupported type '{path.suffix}'; use .safetensors, .pt, .pth or .bin."
        )
    if not path.is_file():
        raise WeightsUnavailable(f"Weights file {path} does not exist.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        log.warning("Refused %s: %s", path, e)
        if "weights only load failed" not in str(e).lower():
            raise UnsafeModelFile(
                f"Weights file {path.name} is not a readable PyTorch weights file and was not unpickled ({e})."
            ) from e
        raise UnsafeModelFile(
            f"Weights file {path.name} holds more than plain tensors (pickled objects or code), so it was not "
            "loaded. Save just the weights, e.g. torch.save(model.state_dict(), path), or use .safetensors."
        ) from e
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as e:  # corrupt or truncated
        raise WeightsUnavailable(f"Weights file {path.name} is not a readable PyTorch file ({e}).") from e
    return _strip_prefix(_unwrap(obj, path))


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "does not exist"
        raise WeightsUnavailable(f"Weights file {path} {problem}.")
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as f:
            raw = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (safetensors.SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise WeightsUnavailable(f"Weights file {path.name} is not a valid safetensors file ({e}).") from e
    return state, raw


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """Find the state dict in a checkpoint: the dict itself, or under state_dict / model / ... keys."""
    for _ in range(3):
        if not isinstance(obj, dict):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    raise WeightsUnavailable(
        f"Weights file {path.name} does not hold a state dict (a mapping of parameter names to tensors, "
        "possibly under 'state_dict' or 'model')."
    )


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state
