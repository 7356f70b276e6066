"""Case photos: type sniffed from the bytes, stored outside the database by SHA-256."""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import ExifTags, Image, UnidentifiedImageError
from sqlalchemy.orm import Session

from ..models import CasePhoto

# Pillow calls a JPEG carrying further images (an HDR gain map, a depth map: many phones
# write them) MPO; it is a JPEG file, its first image the photo.
FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "MPO": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
EXTENSIONS = dict(FORMATS.values())  # content type → file extension
#: Larger images are refused.  The full-resolution modes of 48/50-MP phone sensors are up to
#: 8160×6120 (50 MP), normal shots 12–24 MP; 100+ MP modes and pixel bombs (a 59-MP PNG is
#: 300 KB) are not case photos, and every browser showing the case would decode them.
MAX_PIXELS = 8192 * 6144
#: How EXIF writes a time ("YYYY:MM:DD HH:MM:SS"); blanks or other text mean unknown.
_EXIF_TIME = re.compile(r"\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}")
#: In JPEG scan data, a 0xFF byte followed by anything but a stuffed 0x00, a restart marker
#: (D0–D7) or another fill 0xFF starts the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


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
    """Position and time from EXIF, kept as metadata (never trusted as the case location).

    Only what the header holds is read: Pillow's PNG ``getexif`` decodes the whole image
    to look for an ``eXIf`` chunk after the pixel data, so the base method is called (phones
    and Pillow write EXIF before the pixels).  A value that cannot be used (a 0/0 rational,
    a latitude beyond 90°, a time that is not an EXIF time) is left out; the photo is kept.
    """
    meta: dict[str, Any] = {}
    try:
        exif = Image.Image.getexif(image)
    except Exception:  # malformed EXIF must not refuse an otherwise good photo
        return meta
    taken = exif.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if isinstance(taken, str) and _EXIF_TIME.fullmatch(taken.strip()):
        meta["taken_at"] = taken.strip()
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        gps = {}
    if gps and ExifTags.GPS.GPSLatitude in gps and ExifTags.GPS.GPSLongitude in gps:
        try:
            lat = _gps_degrees(gps[ExifTags.GPS.GPSLatitude])
            lon = _gps_degrees(gps[ExifTags.GPS.GPSLongitude])
        except (TypeError, ValueError, ZeroDivisionError):
            return meta
        if gps.get(ExifTags.GPS.GPSLatitudeRef) == "S":
            lat = -lat
        if gps.get(ExifTags.GPS.GPSLongitudeRef) == "W":
            lon = -lon
        # 0/0 and n/0 rationals read as NaN and infinity, which JSON (and jsonb) cannot hold.
        if math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
            meta["gps"] = {"lon": round(lon, 7), "lat": round(lat, 7)}
    return meta


def _jpeg_complete(data: bytes) -> bool:
    """Whether a JPEG's markers run from SOI to EOI (ITU-T T.81 B.1) without running out.

    A cut-off upload ends inside a scan.  Pillow opens it and, without decoding every pixel
    (0.2–0.8 s for a 12-MP photo), cannot tell; walking the markers costs a few
    milliseconds.  Bytes after EOI are allowed: phones append to JPEGs (motion photos).
    """
    size = len(data)
    pos = 2  # after SOI
    while pos + 1 < size:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        if pos + 4 > size:
            return False
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return False
        pos += 2 + length
        if marker == 0xDA:  # SOS: entropy-coded data runs to the next marker
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                return False
            pos = found.start()
    return False


def check_photo(index: int, data: bytes, max_bytes: int) -> CheckedPhoto:
    """Validate one upload by its bytes (not its name or declared type), without decoding pixels."""
    if not data:
        raise PhotoError(index, "empty file")
    if len(data) > max_bytes:
        raise PhotoError(index, f"{len(data)} bytes exceeds the limit of {max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            fmt = probe.format
            if fmt not in FORMATS:
                raise PhotoError(index, f"{fmt or 'unknown'} images are not accepted; send JPEG or PNG")
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise PhotoError(index, f"{width}×{height} pixels is too large; "
                                        f"at most {MAX_PIXELS // 1_000_000} megapixels")
            exif = _exif_metadata(probe)
            if fmt == "PNG":
                probe.verify()  # checks every chunk's CRC up to IEND (a cut-off file fails); no pixels
            elif not _jpeg_complete(data):
                raise PhotoError(index, "the JPEG is truncated (incomplete upload?); send the whole file")
    except PhotoError:
        raise
    except Image.DecompressionBombError:  # Pillow refuses to open it (far above our cap)
        raise PhotoError(index, f"too many pixels; at most {MAX_PIXELS // 1_000_000} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PhotoError(index, "not a readable JPEG or PNG image") from None
    content_type, extension = FORMATS[fmt]
    return CheckedPhoto(data, hashlib.sha256(data).hexdigest(), content_type, extension, width, height, exif)


class PhotoStore:
    """Content-addressed files under ``root``: ``ab/abcdef….jpg``.

    Two reports with the same bytes share one file, so a request never removes what it
    wrote when it fails: another request, committed or about to commit, may use the same
    file.  Files that no committed row refers to are removed later by :func:`sweep_orphans`.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def path_for(self, sha256: str, extension: str) -> Path:
        """Where a photo with this digest lives."""
        return self.root / sha256[:2] / f"{sha256}{extension}"

    def path_of(self, sha256: str, content_type: str) -> Path:
        """Where a stored photo of this type lives."""
        return self.path_for(sha256, EXTENSIONS[content_type])

    def save(self, photo: CheckedPhoto) -> Path:
        """Write the photo atomically unless the same bytes are already stored.

        A file already stored has its time set to now: the sweep leaves files touched
        within its grace period alone, and this request may not have committed yet.
        """
        target = self.path_for(photo.sha256, photo.extension)
        try:
            os.utime(target)
            return target
        except FileNotFoundError:  # new, or just taken away by the sweep: write it
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_UPLOAD_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(photo.data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


_UPLOAD_PREFIX = ".upload-"  # a write in progress (or one a crash left behind)
_SWEEP_PREFIX = ".sweep-"  # a file the sweep is about to remove
_STORED_NAME = re.compile(r"([0-9a-f]{64})(\.[a-z]+)")


@dataclass
class SweepResult:
    """What :func:`sweep_orphans` removed (or would remove, in a dry run)."""

    removed: list[Path] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0


def _referenced(session: Session, digests: list[str]) -> set[str]:
    """File names of these digests that committed photo rows refer to."""
    rows = session.execute(
        sa.select(CasePhoto.sha256, CasePhoto.content_type).distinct().where(CasePhoto.sha256.in_(digests)))
    return {f"{sha}{EXTENSIONS.get(ctype, '')}" for sha, ctype in rows}


def sweep_orphans(session: Session, root: Path, grace: timedelta, *, dry_run: bool = False,
                  now: float | None = None) -> SweepResult:
    """Remove stored photos that no committed ``case_photos`` row refers to.

    Only files older than ``grace`` go: a request writes (or touches) its files before it
    commits its rows, and :meth:`PhotoStore.save` sets the time of a file it reuses.  A
    file is first renamed away, then checked again: a request that touched it in between
    (so its time is new again) or committed a row for it gets it back.  A request that
    finds it gone writes it afresh.  Run it in a session of its own (each query sees what
    is committed), e.g. daily from ``citygrid sweep-photos``.
    """
    root = Path(root)
    cutoff = (time.time() if now is None else now) - grace.total_seconds()
    result = SweepResult()
    if not root.is_dir():
        return result
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for stale in folder.glob(_SWEEP_PREFIX + "*"):  # an interrupted sweep: check those again
            target = folder / stale.name.removeprefix(_SWEEP_PREFIX)
            if not dry_run:
                os.replace(stale, target)
        candidates: dict[str, Path] = {}
        for path in folder.iterdir():
            try:
                old = path.is_file() and path.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if path.name.startswith(_UPLOAD_PREFIX):
                if old:
                    _remove(path, result, dry_run)
            elif _STORED_NAME.fullmatch(path.name):
                if old:
                    candidates[path.name] = path
                else:
                    result.kept += 1
        if not candidates:
            continue
        in_use = _referenced(session, [name[:64] for name in candidates])
        result.kept += sum(1 for name in candidates if name in in_use)
        for name, path in candidates.items():
            if name in in_use:
                continue
            if dry_run:
                _remove(path, result, dry_run)
                continue
            away = path.with_name(_SWEEP_PREFIX + name)
            try:
                os.rename(path, away)
            except FileNotFoundError:
                continue
            if away.stat().st_mtime >= cutoff or _referenced(session, [name[:64]]):
                os.replace(away, path)  # a request is using it after all (same bytes if rewritten)
                result.kept += 1
            else:
                _remove(away, result, dry_run, shown=path)
    return result


def _remove(path: Path, result: SweepResult, dry_run: bool, shown: Path | None = None) -> None:
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        return
    result.removed.append(shown or path)
    result.bytes_freed += size
