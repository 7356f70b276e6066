"""Case photos: type sniffed from the bytes, stored outside the database by SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
MAX_PIXELS = 60_000_000  # larger images are refused (decompression bombs)


class PhotoError(ValueError):
    """A photo cannot be accepted; ``index`` says which one (0-based)."""

    def __init__(self, index: int, message: str):
        self.index = index
        super().__init__(f"photos[{index}]: {message}")


@dataclass
class CheckedPhoto:
    """A validated photo, not yet stored."""

    data: bytes
    sha256: str
    content_type: str
    extension: str
    width: int
    height: int
    exif: dict[str, Any] = field(default_factory=dict)


def _gps_degrees(value) -> float:
    d, m, s = (float(v) for v in value)
    return d + m / 60.0 + s / 3600.0


def _exif_metadata(image: Image.Image) -> dict[str, Any]:
    """Position and time from EXIF, kept as metadata (never trusted as the case location)."""
    meta: dict[str, Any] = {}
    try:
        exif = image.getexif()
    except Exception:  # malformed EXIF must not refuse an otherwise good photo
        return meta
    taken = exif.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if taken:
        meta["taken_at"] = str(taken)
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        gps = {}
    if gps and ExifTags.GPS.GPSLatitude in gps and ExifTags.GPS.GPSLongitude in gps:
        try:
            lat = _gps_degrees(gps[ExifTags.GPS.GPSLatitude])
            lon = _gps_degrees(gps[ExifTags.GPS.GPSLongitude])
            if gps.get(ExifTags.GPS.GPSLatitudeRef) == "S":
                lat = -lat
            if gps.get(ExifTags.GPS.GPSLongitudeRef) == "W":
                lon = -lon
            meta["gps"] = {"lon": round(lon, 7), "lat": round(lat, 7)}
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    return meta


def check_photo(index: int, data: bytes, max_bytes: int) -> CheckedPhoto:
    """Validate one upload by its bytes (not its name or declared type)."""
    if not data:
        raise PhotoError(index, "empty file")
    if len(data) > max_bytes:
        raise PhotoError(index, f"{len(data)} bytes exceeds the limit of {max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                raise PhotoError(index, f"{fmt or 'unknown'} images are not accepted; send JPEG or PNG")
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise PhotoError(index, f"{width}×{height} pixels is too large")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            exif = _exif_metadata(image)
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoError(index, "not a readable JPEG or PNG image") from None
    content_type, extension = FORMATS[fmt]
    return CheckedPhoto(data, hashlib.sha256(data).hexdigest(), content_type, extension, width, height, exif)


class PhotoStore:
    """Content-addressed files under ``root``: ``ab/abcdef….jpg``.

    Files written during a failed request are removed by :meth:`discard_new`, so a case
    that is rolled back leaves no photo behind.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.created: list[Path] = []

    def path_for(self, sha256: str, extension: str) -> Path:
        """Where a photo with this digest lives."""
        return self.root / sha256[:2] / f"{sha256}{extension}"

    def save(self, photo: CheckedPhoto) -> Path:
        """Write the photo atomically unless the same bytes are already stored."""
        target = self.path_for(photo.sha256, photo.extension)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(photo.data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.created.append(target)
        return target

    def discard_new(self) -> None:
        """Remove the files this store created (the request that wrote them failed)."""
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created.clear()
