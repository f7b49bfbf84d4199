"""Published weight files: downloaded once through ``torch.hub`` (hash-checked, cached), or a
file a user downloaded by hand.

torch.hub names each cached file after its URL and checks the sha256 prefix the name carries
(``…-a79551df.pth``): a corrupted or substituted body is refused and never left in the cache
(it is written to a ``.partial`` file and moved in only once it checks). Offline, the error says
which URL, which file name, which folder, and that ``hub.weights_path`` takes a file instead.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor

from detect.errors import CheckpointError

HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's convention


@dataclass(frozen=True)
class HubConfig:
    """``cache_dir``: where downloads are kept (None: torch.hub's, ``$TORCH_HOME/hub/
    checkpoints``); ``url``: a mirror of the published file, named like it (None: the
    publisher's URL); ``weights_path``: a file downloaded by hand, used instead of any download."""

    cache_dir: str | None = None
    url: str | None = None
    weights_path: str | None = None

    def folder(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else Path(torch.hub.get_dir()) / "checkpoints"


def file_name(url: str) -> str:
    return Path(urlparse(url).path).name


def check_hash(path: Path, name: str) -> None:
    """A hand-downloaded file named like the published one must carry its published hash."""
    match = HASH_IN_NAME.search(name)
    if match is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(match.group(1)):
        raise CheckpointError(
            f"{path}: its sha256 starts {digest[:8]}, not {match.group(1)} as its name says; the "
            "file is damaged or not the published one: download it again"
        )


def is_published_file(path: Path, published_url: str) -> bool:
    """Whether ``path`` holds the bytes published at ``published_url``: its sha256 starts with
    the hash the published name carries (a file of any other name, or other bytes, is not --
    and must not be credited with the publisher's figures)."""
    match = HASH_IN_NAME.search(file_name(published_url))
    if match is None:
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest().startswith(match.group(1))


def load_weights(published_url: str, hub: HubConfig | None = None) -> dict[str, Tensor]:
    """The state dict in :func:`weights_file`, loaded with ``weights_only=True``."""
    return load_state(weights_file(published_url, hub))


def weights_file(published_url: str, hub: HubConfig | None = None) -> Path:
    """The file published at ``published_url`` (or ``hub.url``), downloaded into the cache on
    first use and found there after; ``hub.weights_path`` instead of both."""
    hub = hub or HubConfig()
    if hub.weights_path:
        path = Path(hub.weights_path)
        if not path.is_file():
            raise CheckpointError(f"weights file not found: {path} (hub.weights_path)")
        check_hash(path, path.name)
        return path
    url = hub.url or published_url
    name = file_name(url)
    cached = hub.folder() / name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        match = HASH_IN_NAME.search(name)
        try:
            torch.hub.download_url_to_file(url, str(cached), match and match.group(1))
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise CheckpointError(
                f"cannot download {url} ({reason}); offline, put {name} in {cached.parent} or "
                "pass hub.weights_path=<the file> for one downloaded by hand"
            ) from None
        except RuntimeError as error:
            if "invalid hash value" not in str(error):
                raise
            raise CheckpointError(
                f"the download of {url} is damaged or not the published file ({error}); "
                "nothing was kept in the cache: try again, or check hub.url"
            ) from None
    return cached


def load_state(path: Path) -> dict[str, Tensor]:
    """The state dict in ``path``, loaded with ``weights_only=True``, or one line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # any unreadable bytes: see detect.weights.checkpoint.read_checkpoint
        raise CheckpointError(
            f"{path} is not a readable state dict (damaged, or holding more than tensors)"
        ) from None
