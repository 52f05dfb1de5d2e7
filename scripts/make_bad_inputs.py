#!/usr/bin/env python3
"""Generate the synthetic awkward-input fixtures in crates/facecheck/tests/fixtures/.

Derived from the copied sample photos (obama.jpg, obama1.jpg, obama2.jpg, biden2.jpg must already be there):

    truncated.jpg          first half of obama1.jpg's bytes
    empty.jpg              zero bytes
    text.jpg               plain text under a .jpg name (only content sniffing can reject it)
    huge_dimensions.png    valid signature and IHDR claiming 60000x60000 RGB, then a tiny IDAT: must be refused
                           before any 10 GB allocation (Pillow raises DecompressionBombError)
    too_wide.png           the same for 4097x16: one pixel wider than the decoder's 4096-pixel side limit
    too_many_pixels.png    the same for 4000x4001: within the side limit, 4000 pixels over the 16-megapixel limit
    iccp_bomb.png          a valid 16x16 RGB PNG whose iCCP chunk (16 KiB) inflates to a 16 MiB colour profile,
                           twice what the decoder may allocate besides the pixels: it must stop inflating there
    progressive_444.jpg    a plain grey 4000x4000 (16-megapixel) progressive JPEG without chroma subsampling: the
                           costliest decode the limits let through (all its coefficients are held), in 188 KB
    rgb16.png              16-bit RGB face (obama.jpg area-averaged 8x down in f64: the low bytes carry real detail)
    cmyk.jpg               CMYK JPEG (Pillow writes an Adobe APP14 marker) of a downscaled obama.jpg
    gray.jpg               8-bit grayscale JPEG of biden2.jpg downscaled to 400x400
    rgba.png               RGBA PNG of a downscaled obama2.jpg with an alpha ramp (0 at the left edge, 255 at the
                           right), so alpha compositing and alpha dropping give different pixels
    exif_orientation6.jpg  obama1.jpg's pixels rotated 90 degrees counter-clockwise, stored with EXIF Orientation 6
                           (rotate 90 clockwise to display): a correct decoder shows it upright

Deterministic: rerunning rewrites identical files. Usage: python3 scripts/make_bad_inputs.py [--out DIR]
"""

import argparse
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

FIXTURES = Path(__file__).resolve().parent.parent / "crates/facecheck/tests/fixtures"
ORIENTATION_TAG = 0x0112
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width, height, bit_depth, idat, before_idat=b""):
    """A PNG file of colour type 2 (RGB) with the given IHDR fields and raw IDAT payload (and chunks before it)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + before_idat + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def rgb16_png(pixels):
    """Encode an HxWx3 uint16 array as a 16-bit RGB PNG (filter 0 on every row). Pillow cannot write this mode."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))
    return png_bytes(width, height, 16, zlib.compress(rows, 9))


def area_downscale(image, factor):
    """Mean of factor x factor blocks, in f64 (crops the edges to a multiple of factor)."""
    a = np.asarray(image, dtype=np.float64)
    h, w = a.shape[0] // factor * factor, a.shape[1] // factor * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=FIXTURES)
    args = parser.parse_args(argv)
    out = args.out

    obama1 = (out / "obama1.jpg").read_bytes()
    (out / "truncated.jpg").write_bytes(obama1[: len(obama1) // 2])
    (out / "empty.jpg").write_bytes(b"")
    (out / "text.jpg").write_text("This is a text file, not a JPEG.\n")

    huge_row = b"\x00" + bytes(3 * 60000)
    (out / "huge_dimensions.png").write_bytes(png_bytes(60000, 60000, 8, zlib.compress(huge_row, 9)))
    for name, width, height in (("too_wide.png", 4097, 16), ("too_many_pixels.png", 4000, 4001)):
        row = b"\x00" + bytes(3 * width)
        (out / name).write_bytes(png_bytes(width, height, 8, zlib.compress(row, 9)))
    # iCCP: profile name, NUL, compression method 0, zlib stream.
    bomb = png_chunk(b"iCCP", b"bomb\x00\x00" + zlib.compress(bytes(16 << 20), 9))
    rows = (b"\x00" + bytes(range(48))) * 16
    (out / "iccp_bomb.png").write_bytes(png_bytes(16, 16, 8, zlib.compress(rows, 9), before_idat=bomb))

    Image.new("RGB", (4000, 4000), (128, 128, 128)).save(
        out / "progressive_444.jpg", quality=90, progressive=True, subsampling=0)

    with Image.open(out / "obama.jpg") as im:
        obama = ImageOps.exif_transpose(im).convert("RGB")
    face16 = np.floor(area_downscale(obama, 8) * 257 + 0.5).astype(np.uint16)
    (out / "rgb16.png").write_bytes(rgb16_png(face16))

    small = obama.resize((obama.width // 4, obama.height // 4), Image.Resampling.LANCZOS)
    small.convert("CMYK").save(out / "cmyk.jpg", quality=90)

    with Image.open(out / "biden2.jpg") as im:
        ImageOps.exif_transpose(im).convert("L").resize((400, 400), Image.Resampling.LANCZOS).save(
            out / "gray.jpg", quality=90)

    with Image.open(out / "obama2.jpg") as im:
        obama2 = ImageOps.exif_transpose(im).convert("RGB")
    rgba = obama2.resize((obama2.width // 4, obama2.height // 4), Image.Resampling.LANCZOS).convert("RGBA")
    ramp = np.linspace(0, 255, rgba.width).round().astype(np.uint8)
    rgba.putalpha(Image.fromarray(np.tile(ramp, (rgba.height, 1))))
    rgba.save(out / "rgba.png", optimize=True)

    with Image.open(out / "obama1.jpg") as im:
        upright = ImageOps.exif_transpose(im).convert("RGB")
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(out / "exif_orientation6.jpg", quality=90, exif=exif)
    with Image.open(out / "exif_orientation6.jpg") as im:
        assert ImageOps.exif_transpose(im).size == upright.size, "EXIF orientation 6 does not restore the upright size"

    for name in ("truncated.jpg", "empty.jpg", "text.jpg", "huge_dimensions.png", "too_wide.png",
                 "too_many_pixels.png", "iccp_bomb.png", "progressive_444.jpg", "rgb16.png", "cmyk.jpg", "gray.jpg", "rgba.png",
                 "exif_orientation6.jpg"):
        print(f"{name:24s} {(out / name).stat().st_size:>8d} bytes")


if __name__ == "__main__":
    main()
