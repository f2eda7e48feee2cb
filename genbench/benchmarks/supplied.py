"""Samples made elsewhere, read into what a run's own samples are: uint8 [N, C, H, W].

SAMPLES is a folder of PNG/JPEG images (sorted by path, sub-folders included), a `.npy` or
`.npz` array (uint8 N×H×W[×C], or floats in [0, 1]) or a `.pt` tensor (N×C×H×W or N×H×W[×C]).
Labels, the class each sample was generated for, come from a CSV (one label per line, or a
`label` column), a `.npy`/`.npz`/`.pt` array, or a `labels` array inside the samples' own
`.npz` (or `.pt` dict). Every problem is a SamplesError that names the file and the fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genbench.datasets import to_uint8
from genbench.datasets.folder import image_files, open_images
from genbench.errors import GenbenchError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_FORMATS = (".npy", ".npz", ".pt")
IMAGE_KEYS = ("samples", "images", "x")  # the images' name in an .npz or a .pt dict
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class SamplesError(GenbenchError, ValueError):
    """Supplied samples or labels cannot be measured; the message says why and how to fix it."""


@dataclass
class Supplied:
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor | None  # int64 [N], where the samples' own file carries them
    source: str  # where they came from, as the run records it

    @property
    def sha256(self) -> str:
        """The images' content: what names them in the run's identity."""
        return hashlib.sha256(self.images.numpy().tobytes()).hexdigest()


def read_samples(path: str | Path) -> Supplied:
    """The images (and labels, where the file holds them) of a folder, .npy, .npz or .pt."""
    path = Path(path)
    if path.is_dir():
        return Supplied(_read_folder(path), None, str(path))
    if not path.exists():
        raise SamplesError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        raise SamplesError(f"{path} is one image; give the folder that holds the samples")
    if suffix not in ARRAY_FORMATS:
        raise SamplesError(f"{path}: unknown samples format {suffix or '(no suffix)'!r}; give a "
                           f"folder of PNG/JPEG images or a {', '.join(ARRAY_FORMATS)} file")
    images, labels = _split(_load_array_file(path), path)
    return Supplied(as_images(images, str(path)),
                    None if labels is None else as_labels(labels, f"{path} (labels)"), str(path))


def read_labels(path: str | Path) -> torch.Tensor:
    """One class per sample from a CSV (one per line, or a `label` column) or an array file."""
    path = Path(path)
    if not path.is_file():
        raise SamplesError(f"labels file {path} does not exist")
    if path.suffix.lower() in (".csv", ".txt"):
        return _csv_labels(path)
    if path.suffix.lower() not in ARRAY_FORMATS:
        raise SamplesError(f"{path}: unknown labels format; give a .csv (one label per line, or "
                           f"a `label` column) or a {', '.join(ARRAY_FORMATS)} array")
    content = _load_array_file(path)
    if isinstance(content, dict):
        arrays = {k: v for k, v in content.items() if k == "labels"} or content
        if len(arrays) != 1:
            raise SamplesError(f"{path} holds {sorted(content)}; name the labels array `labels`")
        content = next(iter(arrays.values()))
    return as_labels(content, str(path))


def as_images(array: Any, source: str) -> torch.Tensor:
    """uint8 [N, C, H, W] from N×H×W, N×H×W×C or N×C×H×W (C = 1 or 3), uint8 or floats in
    [0, 1] (rounded to 8 bits as genbench rounds its own samples)."""
    x = _tensor(array, source)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise SamplesError(f"{source}: expected images N×H×W, N×H×W×C or N×C×H×W, got shape "
                           f"{tuple(x.shape)}")
    if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] not in (1, 3):
        raise SamplesError(f"{source}: images need 1 (grey) or 3 (RGB) channels, first or last; "
                           f"got shape {tuple(x.shape)}")
    if len(x) == 0:
        raise SamplesError(f"{source} holds no images")
    return _to_uint8(x, source).contiguous()


def as_labels(array: Any, source: str) -> torch.Tensor:
    """int64 [N] from a whole-number array of shape [N] or [N, 1]."""
    y = _tensor(array, source)
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dim() != 1:
        raise SamplesError(f"{source}: labels must be one number per sample, got shape "
                           f"{tuple(y.shape)}")
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise SamplesError(f"{source}: labels must be whole numbers (class indices)")
    return y.long()


def _tensor(array: Any, source: str) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu()
    try:
        return torch.from_numpy(np.ascontiguousarray(array))
    except TypeError:
        raise SamplesError(f"{source} is not an array of numbers (dtype "
                           f"{getattr(array, 'dtype', type(array).__name__)})") from None


def _to_uint8(x: torch.Tensor, source: str) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x
    if x.dtype == torch.bool or x.is_complex():
        raise SamplesError(f"{source}: images must be uint8 or floats in [0, 1], not {x.dtype}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise SamplesError(f"{source} holds NaN or infinite values")
    low, high = float(x.min()), float(x.max())
    if x.is_floating_point():
        if low < 0 or high > 1:
            raise SamplesError(f"{source}: float images must lie in [0, 1]; these range over "
                               f"[{low:g}, {high:g}] (map [-1, 1] with (x + 1) / 2, divide 0-255 "
                               "values by 255)")
        return to_uint8(x.float())
    if low < 0 or high > 255:
        raise SamplesError(f"{source}: integer images must lie in 0-255; these range over "
                           f"[{low:g}, {high:g}]")
    return x.to(torch.uint8)


def _load_array_file(path: Path) -> Any:
    """An array, or a dict of arrays (.npz, or a .pt holding a dict)."""
    try:
        if path.suffix.lower() == ".pt":
            content = torch.load(path, map_location="cpu", weights_only=True)
        else:
            content = np.load(path, allow_pickle=False)
            if isinstance(content, np.lib.npyio.NpzFile):
                with content:
                    content = {k: content[k] for k in content.files}
    except Exception as error:  # numpy and torch raise many unrelated types for bad files
        raise SamplesError(f"{path} cannot be read ({type(error).__name__}: {error})") from None
    if isinstance(content, dict) and not content:
        raise SamplesError(f"{path} holds no arrays")
    return content


def _split(content: Any, path: Path) -> tuple[Any, Any]:
    """(images, labels or None) of an array file's content."""
    if not isinstance(content, dict):
        return content, None
    keys = [k for k in IMAGE_KEYS if k in content]
    others = [k for k in content if k != "labels"]
    if not keys and len(others) != 1:
        raise SamplesError(f"{path} holds {sorted(content)}; name the images array one of "
                           f"{', '.join(IMAGE_KEYS)}")
    return content[keys[0] if keys else others[0]], content.get("labels")


def _read_folder(folder: Path) -> torch.Tensor:
    files = image_files(folder, IMAGE_SUFFIXES)
    if not files:
        raise SamplesError(f"{folder} holds no PNG or JPEG images")
    images = {path: image.convert("L" if image.mode in GREY_MODES else "RGB")
              for path, image in zip(files, open_images(files, SamplesError), strict=True)}
    _same(folder, {p: image.mode for p, image in images.items()}, "grey and colour images")
    _same(folder, {p: "×".join(map(str, image.size)) for p, image in images.items()},
          "images of different sizes")
    arrays = [np.asarray(image) for image in images.values()]
    return as_images(np.stack(arrays), str(folder))


def _same(folder: Path, values: dict[Path, str], what: str) -> None:
    """One value of a property across all the images, else an error naming an example of each."""
    examples = {}
    for path, value in values.items():
        examples.setdefault(value, path)
    if len(examples) > 1:
        shown = ", ".join(f"{path.name} ({value})" for value, path in list(examples.items())[:3])
        raise SamplesError(f"{folder} mixes {what} (e.g. {shown}); make them all alike")


def _csv_labels(path: Path) -> torch.Tensor:
    try:
        frame = pd.read_csv(path, header=None, dtype=str, skip_blank_lines=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SamplesError(f"labels file {path} cannot be read as CSV ({error})") from None
    header = [str(v).strip().lower() for v in frame.iloc[0]]
    if "label" in header:
        column, values, first_line = header.index("label"), frame.iloc[1:], 2
    elif frame.shape[1] == 1:
        column, values, first_line = 0, frame, 1
    else:
        raise SamplesError(f"labels file {path} has {frame.shape[1]} columns and none named "
                           "`label`; give one label per line, or a column named label")
    numbers = pd.to_numeric(values.iloc[:, column].str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round())
    if bad.any():
        line = first_line + int(np.flatnonzero(bad.to_numpy())[0])
        raise SamplesError(f"labels file {path}, line {line}: "
                           f"{values.iloc[:, column].iloc[line - first_line]!r} is not a class "
                           "index (a whole number)")
    return torch.tensor(numbers.to_numpy(), dtype=torch.float64).long()
