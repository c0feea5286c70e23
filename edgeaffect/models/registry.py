"""The registry of models: name -> ModelCard. Tests loop over it, so adding a
model is adding an entry (DESIGN.md rule 5)."""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from pathlib import Path

from .card import ModelCard

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes: names an artifact's exact weights (engine caches, soups, benchmark results)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_lock = threading.RLock()
_cards: dict[str, ModelCard] = {}
_zoo_loaded = False


def _ensure_zoo() -> None:
    """Registers the shipped models the first time the registry is used."""
    global _zoo_loaded
    with _lock:
        if _zoo_loaded:
            return
        _zoo_loaded = True
        from .zoo import SHIPPED

        for card in SHIPPED:
            _cards.setdefault(card.name, card)
    # Users' own models: EDGEAFFECT_MODELS="pkg.module,other" names modules
    # that call register_model() when imported (so the CLI sees them too).
    for module in filter(None, (m.strip() for m in os.environ.get("EDGEAFFECT_MODELS", "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImportError(f"EDGEAFFECT_MODELS names {module!r}, which cannot be imported: {exc}") from exc


def shipped_artifacts(artifacts: tuple, artifact_dir: Path | None = None) -> tuple:
    """The (key, relative path) pairs of `artifacts` whose files exist in
    `artifact_dir` (default: the package's models/artifacts): a shipped card
    lists only what this build has."""
    root = artifact_dir or ARTIFACT_DIR
    return tuple((key, rel) for key, rel in artifacts if (root / rel).exists())


def register_model(card: ModelCard, replace: bool = False) -> ModelCard:
    """Adds a model card. Registering a name twice is an error unless replace=True."""
    _ensure_zoo()
    with _lock:
        if card.name in _cards and not replace:
            raise ValueError(f"model {card.name!r} is already registered; pass replace=True to override it")
        _cards[card.name] = card
    return card


def unregister_model(name: str) -> None:
    with _lock:
        _cards.pop(name, None)


def get_card(name: str) -> ModelCard:
    _ensure_zoo()
    with _lock:
        card = _cards.get(name)
    if card is None:
        raise KeyError(f"no model named {name!r}; registered models: {sorted(_cards) or 'none'}")
    return card


def list_models() -> list[str]:
    """Names of the registered models.

    Example:
        >>> import edgeaffect
        >>> isinstance(edgeaffect.list_models(), list)
        True
    """
    _ensure_zoo()
    with _lock:
        return sorted(_cards)


def artifact_path(card: ModelCard, precision: str) -> Path:
    """The file of one of a card's artifacts (shipped ones live in models/artifacts)."""
    artifacts = card.artifact_map()
    if precision not in artifacts:
        raise FileNotFoundError(
            f"model {card.name!r} has no {precision} artifact; it has {sorted(artifacts) or 'none'}. "
            f"Build one with `edgeaffect export {card.name} --target PROFILE`"
        )
    path = Path(artifacts[precision])
    return path if path.is_absolute() else ARTIFACT_DIR / path


def build_torch_model(card: ModelCard, **kwargs):
    """Calls the card's torch builder (needs the [export] or [train] extra)."""
    if not card.builder:
        raise ValueError(f"model {card.name!r} has no torch builder")
    module_name, _, func = card.builder.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"building {card.name!r} needs torch: pip install 'edgeaffect[export]' ({exc})") from exc
    return getattr(module, func)(**kwargs)
