"""What the mask formats share: PNG bytes written the same way (deterministic: no timestamps, fixed settings)
the per-image file stem and the per-split folder."""

import io
from pathlib import PurePosixPath

import numpy as np
from PIL import Image as PILImage


def png_bytes(array: np.ndarray, palette: list[int] | None = None) -> bytes:
    """uint8 (h, w) as grey or, with `palette`, paletted; uint16 (h, w) as 16-bit grey; uint8 (h, w, 3) as RGB."""
    if array.ndim == 3:
        image = PILImage.fromarray(array, mode="RGB")
    elif array.dtype == np.uint8:
        image = PILImage.fromarray(array, mode="P" if palette else "L")
        if palette:
            image.putpalette(palette)
    else:
        image = PILImage.fromarray(array.astype(np.uint16))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def stem(file_name: str) -> str:
    """The name an image's derived files take: its export file name without the extension."""
    return PurePosixPath(file_name).stem


def split_dir(image) -> str:
    """The folder of an image's files within a per-split layout: "train/" and so on, "" when not split."""
    return f"{image.split}/" if image.split else ""
