import shutil

import numpy as np
import pytest
from PIL import Image

from unet.data import DataError, carla


def test_list_pairs_matches_names_and_groups_consecutive_frames(carla_dir):
    pairs = carla.list_pairs(carla_dir)
    assert [p.image.name for p in pairs] == [f"{i:06d}.png" for i in range(8)]
    assert all(p.mask.parent.name == "CameraMask" and p.mask.name == p.image.name for p in pairs)
    assert carla.frame_group("000019.png") == carla.frame_group("000000.png") == "block0000"
    assert carla.frame_group("000020.png") == "block0001"


def test_the_coursera_data_parent_folder_is_accepted(carla_dir, tmp_path):
    shutil.copytree(carla_dir, tmp_path / "data")
    assert len(carla.list_pairs(tmp_path)) == 8


def test_masks_are_the_red_channel(carla_dir):
    path = carla_dir / "CameraMask" / "000001.png"
    rgba = np.asarray(Image.open(path))
    assert rgba.shape == (48, 64, 4)
    assert (rgba[..., 1:3] == 0).all() and (rgba[..., 3] == 255).all()
    mask = carla.read_mask(path)
    np.testing.assert_array_equal(mask, rgba[..., 0])
    assert {7, 13} <= set(np.unique(mask))  # road and sky


def test_class_ids_out_of_range_name_the_file_and_id(carla_dir):
    path = carla_dir / "CameraMask" / "000002.png"
    with pytest.raises(DataError, match=r"000002.png: class id 22 is out of range for "
                                        r"num_classes=13 \(ids 0-12\)"):
        carla.read_mask(path, num_classes=13)


def test_class_table_covers_ids_0_to_22():
    assert len(carla.CLASS_NAMES) == len(carla.CLASS_COLORS) == carla.NUM_CLASSES == 23
    assert carla.CLASS_NAMES[7] == "road" and carla.CLASS_NAMES[13] == "sky"
    assert carla.class_name(7) == "road" and carla.class_name(23) == "23"


def test_class_fractions_agree_with_the_check(carla_dir):
    pairs = carla.list_pairs(carla_dir)
    fractions = carla.class_fractions(pairs)
    checked = carla.check(carla_dir).summary["class_pixel_fractions"]
    assert checked == {f"{i} {carla.class_name(i)}": round(share, 4)
                       for i, share in fractions.items()}
    masks = [carla.read_mask(p.mask) for p in pairs]
    road = sum(int((m == 7).sum()) for m in masks) / sum(m.size for m in masks)
    assert fractions[7] == pytest.approx(road)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / "CameraMask" / "000003.png").unlink(), "000003.png: missing mask"),
        (lambda d: shutil.copy(d / "CameraMask" / "000000.png", d / "CameraMask" / "000099.png"),
         "000099.png: mask without an image"),
        (lambda d: Image.new("RGBA", (32, 48)).save(d / "CameraMask" / "000004.png"),
         "mask is 32x48 but its image is 64x48"),
        (lambda d: (d / "CameraRGB" / "000005.png").write_bytes(
            (d / "CameraRGB" / "000005.png").read_bytes()[:-30]), "truncated PNG"),
    ],
)
def test_bad_files_are_found_early_and_named(carla_dir, tmp_path, breakage, message):
    root = shutil.copytree(carla_dir, tmp_path / "carla")
    breakage(root)
    with pytest.raises(DataError, match=message):
        carla.list_pairs(root)


def test_empty_and_missing_folders_are_errors(tmp_path):
    with pytest.raises(DataError, match="no CameraRGB/ and CameraMask/"):
        carla.list_pairs(tmp_path)
    (tmp_path / "CameraRGB").mkdir()
    (tmp_path / "CameraMask").mkdir()
    with pytest.raises(DataError, match="CameraRGB: empty folder"):
        carla.list_pairs(tmp_path)


def test_check_gives_a_class_histogram_and_flags_out_of_range_ids(carla_dir, tmp_path):
    report = carla.check(carla_dir)
    assert report.ok, report.problems
    fractions = report.summary["class_pixel_fractions"]
    assert sum(fractions.values()) == pytest.approx(1.0, abs=1e-3)
    assert fractions["7 road"] > 0.1 and fractions["13 sky"] > 0.1
    report = carla.check(carla_dir, num_classes=10)
    assert not report.ok and "class id 22 is out of range" in report.problems[0]


def test_case_variants_are_read_and_stray_files_skipped_and_named(carla_dir, tmp_path, capsys):
    root = shutil.copytree(carla_dir, tmp_path / "carla")
    rgb, masks = root / "CameraRGB", root / "CameraMask"
    (rgb / "000001.png").rename(rgb / "000001.PNG")  # matched with CameraMask/000001.png
    (masks / "000002.png").rename(masks / "000002.PNG")
    apple_double = b"\x00\x05\x16\x07" + bytes(60)  # macOS's ._ copy of a resource fork
    (rgb / "._000003.png").write_bytes(apple_double)
    (masks / "._000003.png").write_bytes(apple_double)
    (rgb / "thumbs").mkdir()
    (masks / "notes.txt").write_text("hello")
    pairs = carla.list_pairs(root)
    assert [(p.image.name, p.mask.name) for p in pairs[1:3]] == [
        ("000001.PNG", "000001.png"), ("000002.png", "000002.PNG")]
    assert len(pairs) == 8
    skipped = [f"{rgb / '._000003.png'} (hidden file)", f"{rgb / 'thumbs'} (folder)",
               f"{masks / '._000003.png'} (hidden file)", f"{masks / 'notes.txt'} (not a .png)"]
    assert capsys.readouterr().err == f"note: skipped files (4): {', '.join(skipped)}.\n"
    report = carla.check(root)
    assert report.ok, report.problems
    assert report.summary["pairs"] == 8 and report.summary["skipped_files"] == skipped
    np.testing.assert_array_equal(carla.read_mask(pairs[2].mask),
                                  carla.read_mask(carla_dir / "CameraMask" / "000002.png"))
    shutil.copy(rgb / "000001.PNG", rgb / "000001.png")
    with pytest.raises(DataError, match=r"000001.png: same name as 000001.PNG but for case"):
        carla.list_pairs(root)


def test_a_folder_of_only_stray_files_says_what_it_holds(tmp_path):
    (tmp_path / "CameraRGB").mkdir()
    (tmp_path / "CameraMask").mkdir()
    (tmp_path / "CameraRGB" / "._000000.png").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "CameraRGB" / "000000.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(DataError, match=r"CameraRGB: empty folder \(no .png images; it holds "
                                        r".*\._000000.png \(hidden file\), .*000000.jpg "
                                        r"\(not a .png\)\)"):
        carla.list_pairs(tmp_path)
    for index in range(1, 7):
        (tmp_path / "CameraRGB" / f"00000{index}.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(DataError, match=r"000003.jpg \(not a .png\) and 3 more\)\.$"):
        carla.list_pairs(tmp_path)
