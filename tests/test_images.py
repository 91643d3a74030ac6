"""Bad and unusual image input: converted when usable, one-line errors otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from partpoint import ImageError, InstructionError, check_instruction, load_image
from partpoint.io import images as images_mod


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1", "RGB"])
def test_modes_are_converted_to_rgb(tmp_path, mode):
    img = Image.new("RGB", (37, 21), (200, 40, 10))
    img = img.convert(mode) if mode != "I;16" else Image.fromarray(np.full((21, 37), 40000, np.uint16))
    path = tmp_path / "x.png" if mode != "CMYK" else tmp_path / "x.jpg"
    img.save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (37, 21)
    if mode == "I;16":
        assert abs(int(np.asarray(out)[0, 0, 0]) - 40000 // 257) <= 1


def test_transparent_pixels_go_white():
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(load_image(img))[0, 0].tolist() == [255, 255, 255]


def test_exif_rotation_is_honoured(tmp_path):
    # Stored 40 wide x 20 high with orientation 6 (rotate 90 CW to display) -> shown 20 x 40.
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red as stored
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    out = load_image(path)
    assert out.size == (20, 40)
    a = np.asarray(out).astype(int)
    # After a 90-degree clockwise turn, the stored left half becomes the top half.
    assert a[5, 10, 0] > 200 and a[5, 10, 2] < 60
    assert a[35, 10, 0] < 60


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_directory(tmp_path):
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_corrupt_file(tmp_path):
    p = tmp_path / "bad.jpg"
    p.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageError, match="cannot identify"):
        load_image(p)


def test_truncated_file(tmp_path):
    p = tmp_path / "trunc.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(p)
    p.write_bytes(p.read_bytes()[:60])
    with pytest.raises(ImageError):
        load_image(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(p)


def test_zero_pixel_image():
    with pytest.raises(ImageError, match="0 pixels"):
        load_image(Image.new("RGB", (0, 5)))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((0, 4, 3), np.uint8))


def test_decompression_bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(images_mod, "MAX_PIXELS", 10_000)
    p = tmp_path / "big.png"
    Image.new("L", (200, 200)).save(p)
    with pytest.raises(ImageError, match="decompression-bomb"):
        load_image(p)


def test_error_messages_are_one_line(tmp_path):
    with pytest.raises(ImageError) as e:
        load_image(tmp_path / "nope.png")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", ["", "   \n\t ", None, 3])
def test_bad_instruction(bad):
    with pytest.raises(InstructionError):
        check_instruction(bad)


def test_instruction_is_stripped():
    assert check_instruction("  Point to the mug.\n") == "Point to the mug."


def test_atomic_writes_get_the_mode_of_a_plain_write(tmp_path):
    import os

    from partpoint.io.atomic import atomic_write_json

    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    atomic_write_json(tmp_path / "atomic.json", {"a": 1})
    assert os.stat(tmp_path / "atomic.json").st_mode & 0o777 == os.stat(plain).st_mode & 0o777
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
