"""Downscaled PNGs for the README gallery: small enough to commit (docs/gallery/)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from helix.io import atomic_path

MAX_WIDTH_PX = 900


def shrink_all(pairs: list[tuple[str | Path, str | Path]], max_width: int = MAX_WIDTH_PX) -> list[int]:
    """Resize each source PNG to at most ``max_width`` pixels wide, palette-quantised; sizes in bytes."""
    sizes = []
    for src, dst in pairs:
        with Image.open(src) as img:
            img = img.convert("RGB")
            if img.width > max_width:
                img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
            img = img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            with atomic_path(dst) as tmp:
                img.save(tmp, format="PNG", optimize=True)
        sizes.append(Path(dst).stat().st_size)
    return sizes
