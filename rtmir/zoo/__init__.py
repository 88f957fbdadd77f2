"""The model zoo: exported ONNX files shipped inside the package, described by their cards."""
from __future__ import annotations

from pathlib import Path

from ..card import ModelCard
from ..session import ModelError

ZOO_DIR = Path(__file__).resolve().parent


def zoo_models() -> list[Path]:
    """Paths of the shipped ``.onnx`` files, sorted by name."""
    return sorted(ZOO_DIR.glob("*.onnx"))


def read_card_file(path: Path) -> ModelCard:
    """Read a model's card without building an inference session.

    Raises:
        ModelError: missing, not ONNX, or no/invalid card.
    """
    from ..session import StreamingSession

    return StreamingSession(path).card


def resolve_model(name_or_path: str) -> Path:
    """A zoo name ("pitch-tcn") or a path to an ``.onnx`` file → the file.

    Raises:
        ModelError: neither a shipped model nor an existing file (the message lists the zoo).
    """
    as_path = Path(name_or_path)
    if as_path.suffix == ".onnx" or as_path.exists():
        if as_path.is_dir():
            raise ModelError(f"--model {as_path} is a directory: give the .onnx file inside it")
        if not as_path.is_file():
            raise ModelError(f"model file not found: {as_path}")
        return as_path
    shipped = {p.stem: p for p in zoo_models()}
    if name_or_path in shipped:
        return shipped[name_or_path]
    names = ", ".join(sorted(shipped)) or "none shipped yet"
    raise ModelError(f"unknown model {name_or_path!r}: shipped models are: {names}")
