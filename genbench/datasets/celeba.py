"""CelebA, aligned and cropped, at the field's 64x64 (centre-crop 148, resize 64)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genbench.datasets.base import (
    DatasetCorrupt,
    DatasetSpec,
    DatasetUnavailable,
    ImageData,
    Source,
    register_dataset,
)

CROP = 148
PARTITION = {"train": 0, "test": 2}  # 1 is the validation split, unused here


def _read_partition(path: Path) -> dict[str, int]:
    rows = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit():
            raise DatasetCorrupt(f"{path}:{n} should read 'FILE.jpg PARTITION', got {line!r}")
        rows[parts[0]] = int(parts[1])
    return rows


def _read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    lines = path.read_text().splitlines()
    names = lines[1].split()
    table = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) != len(names) + 1:
            raise DatasetCorrupt(f"{path}: row {parts[:1]} has {len(parts) - 1} attributes, "
                                 f"expected {len(names)}")
        table[parts[0]] = [int(v == "1") for v in parts[1:]]
    return names, table


def crop_and_resize(img: Image.Image, size: int) -> np.ndarray:
    w, h = img.size
    crop = min(CROP, w, h)
    left, top = (w - crop) // 2, (h - crop) // 2
    img = img.convert("RGB").crop((left, top, left + crop, top + crop))
    return np.asarray(img.resize((size, size), Image.BILINEAR))


def _load_one(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return crop_and_resize(img, size)
    except OSError as e:
        raise DatasetCorrupt(f"{path} cannot be decoded ({e}); replace it.") from e


def _decode(folder: Path, names: list[str], attr_file: Path | None, size: int):
    def decode() -> ImageData:
        with ThreadPoolExecutor(max_workers=8) as pool:
            arrays = list(pool.map(lambda n: _load_one(folder / "img_align_celeba" / n, size),
                                   names))
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        meta = {"channels": 3, "size": [size, size], "num_classes": None, "class_names": None}
        attributes = None
        if attr_file is not None:
            attr_names, table = _read_attributes(attr_file)
            attributes = torch.tensor([table[n] for n in names], dtype=torch.int64)
            meta["attribute_names"] = attr_names
        return ImageData(images, None, meta, attributes=attributes)
    return decode


def _locate(root: Path, split: str, download: bool, size: int) -> Source:
    folder = root / "celeba"
    partition = folder / "list_eval_partition.txt"
    images_dir = folder / "img_align_celeba"
    if not (partition.exists() and images_dir.is_dir()):
        error = "download not attempted (--no-download)"
        if download:
            error = _download(root)
            if error is None:
                return _locate(root, split, False, size)
        raise DatasetUnavailable(
            f"CelebA is not available. Expected:\n  - {images_dir}/000001.jpg ... (the aligned "
            f"and cropped images)\n  - {partition}\n  - {folder}/list_attr_celeba.txt (optional, "
            f"for the 40 attributes)\n  - torchvision download into {root}: {error}\n"
            "Get img_align_celeba.zip and the list files from the CelebA site and unpack them "
            "there, or point --data-root / $GENBENCH_DATA at a folder that has them."
        )
    names = [n for n, p in _read_partition(partition).items() if p == PARTITION[split]]
    missing = [n for n in names[:1000] if not (images_dir / n).exists()]
    if not names or missing:
        raise DatasetUnavailable(f"{partition} lists {len(names)} {split} images but "
                                 f"{images_dir} lacks e.g. {missing[:3]}; unpack all images.")
    attr_file = folder / "list_attr_celeba.txt"
    attr_file = attr_file if attr_file.exists() else None
    files = [partition] + ([attr_file] if attr_file else [])
    return Source(str(folder), files, _decode(folder, names, attr_file, size))


def _download(root: Path) -> str | None:
    import torchvision.datasets

    try:
        torchvision.datasets.CelebA(str(root), split="all", download=True)
        return None
    except Exception as e:
        return f"failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"


register_dataset(DatasetSpec(
    name="celeba",
    description="CelebA aligned faces, centre-crop 148, 64x64 colour, 40 attributes",
    locate=_locate,
    options={"size": 64},
))
