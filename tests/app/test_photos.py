"""Photo checks by their bytes: EXIF that cannot be used, pixel bombs, truncated JPEGs."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image, ImageFile
from PIL.TiffImagePlugin import IFDRational

from app.services.photos import MAX_PIXELS, PhotoError, check_photo

LIMIT = 10 * 1024 * 1024


def image_bytes(fmt="JPEG", size=(64, 48), exif=None, mode="RGB", **kw) -> bytes:
    buf = io.BytesIO()
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 0)
    image.save(buf, fmt, **({"exif": exif} if exif is not None else {}), **kw)
    return buf.getvalue()


def noisy_jpeg(progressive=False) -> bytes:
    """A JPEG whose scan data is long enough to cut in the middle."""
    image = Image.effect_noise((160, 120), 60).convert("RGB")
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90, progressive=progressive)
    return buf.getvalue()


def gps_exif(lat, lon, lat_ref="N", lon_ref="E") -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.DateTimeOriginal] = "2026:03:04 08:15:00"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: lat_ref, ExifTags.GPS.GPSLatitude: lat,
        ExifTags.GPS.GPSLongitudeRef: lon_ref, ExifTags.GPS.GPSLongitude: lon,
    }
    return exif


def dms(d, m, s):
    return tuple(IFDRational(*v) if isinstance(v, tuple) else IFDRational(v, 1) for v in (d, m, s))


@pytest.fixture
def decodes(monkeypatch):
    """How often Pillow decoded pixels (ImageFile.load) during the test."""
    calls = []
    original = ImageFile.ImageFile.load

    def counting(self):
        calls.append(self.format)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return calls


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_position_and_time_are_kept(fmt):
    exif = gps_exif(dms(34, 45, (3600, 100)), dms(113, 37, (1800, 100)), "N", "E")
    photo = check_photo(0, image_bytes(fmt, exif=exif), LIMIT)
    assert photo.exif == {"taken_at": "2026:03:04 08:15:00", "gps": {"lat": 34.76, "lon": 113.6216667}}


@pytest.mark.parametrize(
    "lat, lon",
    [
        (dms((0, 0), (0, 0), (0, 0)), dms(113, 37, 0)),  # 0/0 → NaN
        (dms(34, 45, 0), dms((1, 0), 0, 0)),  # 1/0 → inf
        (dms(95, 0, 0), dms(113, 0, 0)),  # no such latitude
    ],
)
def test_unusable_gps_is_dropped_and_the_photo_kept(lat, lon):
    photo = check_photo(0, image_bytes(exif=gps_exif(lat, lon)), LIMIT)
    assert photo.exif == {"taken_at": "2026:03:04 08:15:00"}


def test_unusable_exif_time_is_dropped():
    exif = Image.Exif()
    exif[ExifTags.Base.DateTimeOriginal] = "2026:03:04\x00 08:15"
    assert check_photo(0, image_bytes(exif=exif), LIMIT).exif == {}


def test_a_59_megapixel_png_is_refused_without_decoding(decodes):
    bomb = image_bytes("PNG", size=(7700, 7700), mode="1")  # 59.3 MP in about 10 KB
    assert len(bomb) < 300_000 and 7700 * 7700 > MAX_PIXELS
    with pytest.raises(PhotoError, match=r"photos\[2\].*7700×7700 pixels"):
        check_photo(2, bomb, LIMIT)
    assert decodes == []


@pytest.mark.parametrize("exif", [None, gps_exif(dms(34, 45, 0), dms(113, 37, 0))])
def test_png_metadata_is_read_without_decoding_pixels(decodes, exif):
    photo = check_photo(0, image_bytes("PNG", size=(640, 480), exif=exif), LIMIT)
    assert (photo.width, photo.height) == (640, 480)
    assert photo.exif == ({} if exif is None else {"taken_at": "2026:03:04 08:15:00",
                                                   "gps": {"lat": 34.75, "lon": 113.6166667}})
    assert decodes == []


@pytest.mark.parametrize("progressive", [False, True])
def test_truncated_jpegs_are_refused(progressive):
    whole = noisy_jpeg(progressive)
    assert check_photo(0, whole, LIMIT).width == 160
    for cut in (len(whole) // 2, len(whole) - 200, len(whole) - 2):
        with pytest.raises(PhotoError, match=r"photos\[1\].*truncated"):
            check_photo(1, whole[:cut], LIMIT)


def test_data_after_the_end_of_a_jpeg_is_allowed():
    """Phones append to JPEGs (motion photos put a video after the image's EOI marker)."""
    photo = check_photo(0, noisy_jpeg() + b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, LIMIT)
    assert photo.content_type == "image/jpeg"


def png_header_only(width, height) -> bytes:
    """A PNG that declares its size and holds no pixel data."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IEND", b""))


def test_far_too_many_pixels_is_too_large_not_unreadable():
    with pytest.raises(PhotoError, match=r"photos\[0\].*megapixels"):
        check_photo(0, png_header_only(20000, 10000), LIMIT)


def test_truncated_png_is_refused():
    whole = image_bytes("PNG", size=(64, 48))
    with pytest.raises(PhotoError, match=r"photos\[0\]"):
        check_photo(0, whole[: len(whole) - 20], LIMIT)


def test_a_jpeg_with_a_gain_map_is_a_jpeg():
    """Phones add images (HDR gain maps, depth) to their JPEGs; Pillow opens those as MPO."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buf, "MPO", save_all=True, append_images=[Image.new("L", (32, 24))])
    photo = check_photo(0, buf.getvalue(), LIMIT)
    assert (photo.content_type, photo.extension, photo.width) == ("image/jpeg", ".jpg", 64)
    with pytest.raises(PhotoError, match=r"photos\[0\]"):  # cut inside the first image
        check_photo(0, buf.getvalue()[:600], LIMIT)
