"""A user's own directory of images, with optional class sub-folders."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Collection
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genbench.datasets.base import (
    DatasetCorrupt,
    DatasetSpec,
    DatasetUnavailable,
    ImageData,
    Source,
    register_dataset,
)
from genbench.errors import ConfigError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TEST_FRACTION = 10  # one image in ten, chosen by a hash of its path, is held out


def image_files(folder: Path, extensions: Collection[str] = EXTENSIONS) -> list[Path]:
    """The image files under `folder`, sub-folders included, sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file())


def _in_test_split(path: Path, folder: Path) -> bool:
    digest = hashlib.md5(str(path.relative_to(folder)).encode()).digest()
    return digest[0] % TEST_FRACTION == 0


def open_images(files: list[Path], error: type[Exception] = DatasetCorrupt) -> list[Image.Image]:
    """Every file decoded (16-bit greys as 8-bit "L"), or `error` naming each one that cannot
    be read."""
    images, unreadable, too_large = [], [], []
    for path in files:
        try:
            images.append(_open(path, error))
        except Image.DecompressionBombError as e:
            too_large.append(f"{path} ({_pixels(e)})")
        except (UnidentifiedImageError, OSError) as e:
            unreadable.append(f"{path} ({type(e).__name__})")
    if too_large:
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise error(f"{len(too_large)} image file(s) too large to decode safely: "
                    f"{'; '.join(too_large[:10])}. PIL refuses images over {2 * limit:,} "
                    "pixels (2 x Image.MAX_IMAGE_PIXELS, its decompression-bomb check): resize "
                    "them, or remove them from the folder.")
    if unreadable:
        shown = "\n  ".join(unreadable[:10])
        more = f"\n  ... and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        raise error(f"{len(unreadable)} image file(s) cannot be read:\n  {shown}{more}"
                    "\nRemove or replace them.")
    return images


# Modes of 16-bit grey images (PNG, TIFF): "I" is how older Pillow opens a 16-bit PNG.
GREY16 = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def _open(path: Path, error: type[Exception]) -> Image.Image:
    """One image, loaded; an image over Image.MAX_IMAGE_PIXELS (but under the 2x PIL refuses)
    is decoded with a warning naming it, instead of PIL's, which names no file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            img.load()
            image = _to_8bit(img, path, error) if img.mode in GREY16 else img.copy()
    w, h = image.size
    if Image.MAX_IMAGE_PIXELS and w * h > Image.MAX_IMAGE_PIXELS:
        warnings.warn(f"{path} is {w}x{h} = {w * h:,} pixels, over Image.MAX_IMAGE_PIXELS = "
                      f"{Image.MAX_IMAGE_PIXELS:,}: decoding it is slow and takes much memory; "
                      "resize it, or remove it from the folder", stacklevel=3)
    return image


def _to_8bit(img: Image.Image, path: Path, error: type[Exception]) -> Image.Image:
    """A 16-bit grey image as "L", 0..65535 scaled to 0..255 with rounding: Pillow's own
    convert("L") clips instead, so a 16-bit copy of an 8-bit image would read as another."""
    values = np.asarray(img).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise error(f"{path} holds {img.mode!r} pixels outside 0..65535 (32-bit); save it as "
                    "an 8- or 16-bit image")
    return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))


def _pixels(bomb: Exception) -> str:
    """The pixel count of PIL's decompression-bomb message (which has no width and height)."""
    found = re.search(r"\((\d+) pixels\)", str(bomb))
    return f"{int(found.group(1)):,} pixels" if found else str(bomb)


def _channels(images: list[Image.Image], channels: int | None, folder: Path) -> int:
    if channels is not None:
        if channels not in (1, 3):
            raise ConfigError(f"folder channels must be 1 or 3, got {channels}")
        return channels
    grey = {img.mode in ("L", "1", *GREY16) for img in images}
    if len(grey) > 1:
        raise DatasetCorrupt(f"{folder} mixes grey and colour images; pass channels=1 or "
                             "channels=3 (--option channels=3) to convert them all.")
    return 1 if grey.pop() else 3


def _size(images: list[Image.Image], size: int | None, folder: Path) -> int:
    if size is not None:
        if size < 8:
            raise ConfigError(f"folder size must be at least 8 pixels, got {size}")
        return size
    sizes = {img.size for img in images}
    if len(sizes) > 1:
        raise DatasetCorrupt(f"{folder} holds images of {len(sizes)} different sizes "
                             f"(e.g. {sorted(sizes)[:3]}); pass size=N to resize them all.")
    w, h = sizes.pop()
    if w != h:
        raise DatasetCorrupt(f"{folder} holds {w}x{h} images; pass size=N to resize them square.")
    return w


def _decode(folder: Path, files: list[Path], split: str, size: int | None, channels: int | None):
    def decode() -> ImageData:
        chosen = [p for p in files if _in_test_split(p, folder) == (split == "test")]
        if not chosen:
            raise DatasetUnavailable(f"{folder} has too few images for a {split} split "
                                     f"(one in {TEST_FRACTION} is held out for test).")
        images = open_images(chosen)
        c, s = _channels(images, channels, folder), _size(images, size, folder)
        mode = "L" if c == 1 else "RGB"
        arrays = [np.asarray(img.convert(mode).resize((s, s), Image.BILINEAR)) for img in images]
        tensor = torch.from_numpy(np.stack(arrays)).reshape(len(arrays), s, s, c)
        classes = sorted({p.parent.relative_to(folder).as_posix() for p in files})
        labelled = classes != ["."]
        labels = (torch.tensor([classes.index(p.parent.relative_to(folder).as_posix())
                                for p in chosen]) if labelled else None)
        return ImageData(tensor.permute(0, 3, 1, 2).contiguous(), labels, {
            "channels": c, "size": [s, s], "num_classes": len(classes) if labelled else None,
            "class_names": classes if labelled else None})
    return decode


def _locate(root: Path, split: str, download: bool, size: int | None,
            channels: int | None) -> Source:
    if not root.is_dir():
        raise DatasetUnavailable(f"image folder {root} does not exist; pass the directory that "
                                 "holds your images as --data-root.")
    files = image_files(root)
    if not files:
        raise DatasetUnavailable(f"{root} contains no images ({', '.join(sorted(EXTENSIONS))}); "
                                 "pass the directory that holds your images as --data-root.")
    return Source(str(root), files, _decode(root, files, split, size, channels))


register_dataset(DatasetSpec(
    name="folder",
    description="your own images: --data-root DIR, optional class sub-folders",
    locate=_locate,
    options={"size": None, "channels": None},
    root_is_data=True,
))
