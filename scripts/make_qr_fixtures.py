#!/usr/bin/env python3
"""The QR-code fixtures that the readers of enrollment codes are tested on (crates/facecheck/tests/fixtures).

`enrollment_qr.jpg` (committed earlier, made with the same recipe as `picture()` below from the fleet's payload
format; not regenerated here) is the code that reads. This script makes the two that must not, each with its own error:

- `enrollment_qr_blurred.jpg`: `enrollment_qr.jpg` under a Gaussian blur that leaves the finder patterns visible and
  merges the modules (QrCodeUnreadable / reason `unreadable`);
- `qr_not_enrollment.jpg`: a sharp QR code of a web address, drawn like the enrollment one (NotEnrollmentCode /
  reason `not_enrollment`).

Needs Pillow and the `qrcode` package (pip install qrcode pillow). Deterministic for one Pillow version.
"""
import pathlib

import qrcode
from PIL import Image, ImageFilter

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "crates" / "facecheck" / "tests" / "fixtures"

# The blur that makes the committed code unreadable while its three finder patterns still show.
BLUR_RADIUS = 2.0


def picture(payload: str) -> Image.Image:
    """A printed code as a phone sees it: dark modules on off-white, a quiet zone, turned 4 degrees on a beige
    table, a little out of focus."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    code.add_data(payload)
    code.make(fit=True)
    paper = code.make_image(fill_color=(30, 30, 30), back_color=(245, 245, 240)).get_image().convert("RGB")
    paper = paper.rotate(4, resample=Image.BICUBIC, expand=True, fillcolor=(200, 190, 170))
    table = Image.new("RGB", (paper.width + 120, paper.height + 200), (200, 190, 170))
    table.paste(paper, (60, 100))
    return table.filter(ImageFilter.GaussianBlur(0.8))


def main() -> None:
    sharp = Image.open(FIXTURES / "enrollment_qr.jpg").convert("RGB")
    sharp.filter(ImageFilter.GaussianBlur(BLUR_RADIUS)).save(FIXTURES / "enrollment_qr_blurred.jpg", quality=85)
    picture("https://example.org/menu?table=12").save(FIXTURES / "qr_not_enrollment.jpg", quality=85)


if __name__ == "__main__":
    main()
