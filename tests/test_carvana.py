import csv
import dataclasses

import numpy as np
import pytest
from PIL import Image

from unet.data import DataError, carvana


def test_rle_of_a_hand_made_mask_is_row_major_and_one_based():
    mask = np.array([[0, 1, 1], [1, 0, 1]])
    assert carvana.rle_encode(mask) == "2 3 6 1"  # the run 2-4 wraps onto the second row
    np.testing.assert_array_equal(carvana.rle_decode("2 3 6 1", shape=(2, 3)), mask)


def test_first_kaggle_row_lands_where_row_major_order_puts_it():
    # train_masks.csv, row 1: "879386 40 ...". Pixel 879386 (1-based) is index 879385, that is
    # row 458, column 941 (458 * 1918 + 941 = 879385).
    mask = carvana.rle_decode("879386 40")
    assert mask.shape == (1280, 1918)
    assert mask[458, 941:981].all() and mask.sum() == 40
    assert mask[458, 940] == 0 and mask[458, 981] == 0


@pytest.mark.parametrize("density", [0.0, 0.01, 0.5, 1.0])
def test_rle_round_trip_on_native_size_masks(density, rng):
    mask = (rng.random(carvana.IMAGE_SIZE) < density).astype(np.uint8)
    rle = carvana.rle_encode(mask)
    np.testing.assert_array_equal(carvana.rle_decode(rle), mask)
    if density == 0.0:
        assert rle == ""
    if density == 1.0:
        assert rle == f"1 {1280 * 1918}"


def test_rle_round_trip_on_a_generated_car_mask(carvana_dir):
    rows = carvana.read_rle_csv(carvana_dir / "train_masks.csv")
    name, rle = next(iter(rows.items()))
    gif = carvana.read_mask(carvana_dir / "train_masks" / carvana.mask_name(name))
    assert 0 < gif.mean() < 1
    assert carvana.rle_encode(gif) == rle
    np.testing.assert_array_equal(carvana.rle_decode(rle, gif.shape), gif)


def test_masks_in_0_255_are_mapped_and_other_values_rejected():
    np.testing.assert_array_equal(carvana.as_binary_mask(np.array([[0, 255]])), [[0, 1]])
    assert carvana.rle_encode(np.array([[0, 255, 255]])) == "2 2"
    with pytest.raises(DataError, match="mask values must be \\{0, 1\\} or \\{0, 255\\}; "
                                        "found 0, 1, 2"):
        carvana.rle_encode(np.array([[0, 1, 2]]))


@pytest.mark.parametrize(
    "rle, message",
    [
        ("1 2 5", "odd number of values \\(3\\)"),
        ("5 2 3 1", "starts must increase; start 3 follows 5"),
        ("1 5 3 1", "runs overlap"),
        ("5 3", "runs past the image \\(6 pixels\\)"),
        ("0 2", "1-based; found a start of 0"),
        ("1 0", "run of length 0"),
        ("1 x", "not an integer"),
    ],
)
def test_bad_rle_is_rejected_with_the_reason(rle, message):
    with pytest.raises(DataError, match=message):
        carvana.rle_decode(rle, shape=(2, 3), source="row abc_01.jpg")


def test_list_pairs_finds_every_view_sorted_with_car_and_view(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)
    assert len(pairs) == 3 * 16
    assert [p.image for p in pairs] == sorted(p.image for p in pairs)
    assert len({p.group for p in pairs}) == 3
    first = pairs[0]
    assert first.view == 1 and first.image.name == f"{first.group}_01.jpg"
    assert first.mask.name == f"{first.group}_01_mask.gif" and first.rle is None


def test_masks_come_from_the_csv_when_the_gifs_are_absent(carvana_copy):
    import shutil

    gif_pairs = carvana.list_pairs(carvana_copy)
    from_gifs = [carvana.read_pair_mask(pair) for pair in gif_pairs[:3]]
    shutil.rmtree(carvana_copy / "train_masks")
    csv_pairs = carvana.list_pairs(carvana_copy)
    assert [p.image.name for p in csv_pairs] == [p.image.name for p in gif_pairs]
    assert all(p.mask is None and p.rle for p in csv_pairs)
    for from_gif, csv_pair in zip(from_gifs, csv_pairs):  # one mask either way
        assert from_gif.shape == (64, 96) and from_gif.any()
        np.testing.assert_array_equal(carvana.read_pair_mask(csv_pair), from_gif)
    bad = dataclasses.replace(csv_pairs[0], rle="1 99999")
    with pytest.raises(DataError, match=f"train_masks.csv row {bad.name}: RLE run at 1"):
        carvana.read_pair_mask(bad)


def test_a_carvana_folder_holds_train_or_train_hq(tmp_path):
    assert not carvana.is_layout(tmp_path)
    with pytest.raises(DataError, match="no train/ or train_hq/ folder"):
        carvana.image_folder(tmp_path)
    (tmp_path / "train_hq").mkdir()
    assert carvana.is_layout(tmp_path) and carvana.image_folder(tmp_path) == tmp_path / "train_hq"
    (tmp_path / "train").mkdir()
    assert carvana.image_folder(tmp_path) == tmp_path / "train"


def test_split_by_car_keeps_every_car_on_one_side(carvana_dir):
    pairs = carvana.list_pairs(carvana_dir)
    train, val = carvana.split_by_car(pairs, val_fraction=0.34, seed=1)
    train_cars, val_cars = {p.group for p in train}, {p.group for p in val}
    assert not train_cars & val_cars
    assert len(val_cars) == 1 and len(val) == 16 and len(train) == 32
    assert carvana.split_by_car(pairs, 0.34, seed=1) == (train, val)  # deterministic
    seeds = {tuple(sorted({p.group for p in carvana.split_by_car(pairs, 0.34, s)[1]}))
             for s in range(10)}
    assert len(seeds) > 1  # the seed matters


def _rewrite(path, damage):
    data = path.read_bytes()
    path.write_bytes(damage(data))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (next(d.glob("train_masks/*.gif"))).unlink(), "missing mask .*_mask.gif"),
        (lambda d: Image.new("P", (96, 64)).save(d / "train_masks" / "ffffffffffff_01_mask.gif"),
         "ffffffffffff_01_mask.gif: mask without an image"),
        (lambda d: Image.new("P", (90, 64)).save(next(d.glob("train_masks/*.gif"))),
         "mask is 90x64 but its image is 96x64"),
        (lambda d: _rewrite(next(d.glob("train/*.jpg")), lambda b: b[: len(b) // 2]),
         "truncated JPEG \\(no end-of-image marker\\)"),
        (lambda d: next(d.glob("train/*.jpg")).write_text("<html>not found</html>"),
         "not a readable image"),
        (lambda d: next(d.glob("train/*.jpg")).write_bytes(b""), "empty file \\(0 bytes\\)"),
    ],
)
def test_bad_files_are_found_early_and_named(carvana_copy, breakage, message):
    breakage(carvana_copy)
    with pytest.raises(DataError, match=message):
        carvana.list_pairs(carvana_copy)


def test_an_empty_folder_is_an_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="train: empty folder"):
        carvana.list_pairs(tmp_path)
    with pytest.raises(DataError, match="no train/ or train_hq/"):
        carvana.list_pairs(tmp_path / "nowhere")


def _rewrite_csv(root, change):
    path = root / "train_masks.csv"
    rows = list(csv.reader(path.open()))
    change(rows)
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows(rows)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda rows: rows[1].__setitem__(1, rows[1][1] + " 7"), "odd number of values"),
        (lambda rows: rows[1].__setitem__(1, "100 2 50 2"), "starts must increase"),
        (lambda rows: rows[1].__setitem__(1, f"{64 * 96} 2"), "runs past the image"),
        (lambda rows: rows.pop(1), "no row in train_masks.csv"),
        (lambda rows: rows.__setitem__(0, ["image", "mask"]),
         "line 1 must be the header 'img,rle_mask'; found 'image,mask'"),
        # No header: the first row is quoted cut short, not its whole RLE.
        (lambda rows: rows.pop(0), r"found '\w+_01\.jpg,[\d ]{40,49}\.\.\.'\.$"),
    ],
)
def test_bad_csv_rows_are_reported_with_the_image_name(carvana_copy, change, message):
    import shutil

    shutil.rmtree(carvana_copy / "train_masks")
    _rewrite_csv(carvana_copy, change)
    with pytest.raises(DataError, match=message):
        carvana.list_pairs(carvana_copy)


def test_csv_and_gifs_agree_until_one_gif_changes(carvana_copy):
    assert carvana.compare_csv_with_gifs(carvana_copy) == []
    gif_path = sorted((carvana_copy / "train_masks").glob("*.gif"))[5]
    mask = carvana.read_mask(gif_path)
    mask[:3, :4] = 1 - mask[:3, :4]
    image = Image.frombytes("P", (96, 64), mask.tobytes())
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.save(gif_path)
    differences = carvana.compare_csv_with_gifs(carvana_copy)
    assert differences == [f"{gif_path.name.replace('_mask.gif', '.jpg')}: RLE and GIF differ "
                           "in 12 pixels."]


def test_check_summarises_and_reports_problems(carvana_copy):
    report = carvana.check(carvana_copy)
    assert report.ok, report.problems
    assert report.summary["pairs"] == 48 and report.summary["cars"] == 3
    assert report.summary["image_sizes"] == {"96x64": 48}
    assert report.summary["mask_values"] == [0, 1]
    assert 0.05 < report.summary["mean_mask_coverage"] < 0.6
    gif_path = next((carvana_copy / "train_masks").glob("*.gif"))
    Image.fromarray(np.full((64, 96), 7, np.uint8), "L").save(gif_path)  # a grey level of 7
    report = carvana.check(carvana_copy)
    assert not report.ok
    assert any("found 7" in p and gif_path.name in p for p in report.problems)


def test_test_images_are_listed(carvana_dir):
    assert len(carvana.list_test_images(carvana_dir)) == 16


def test_an_rle_number_too_large_names_the_row():
    with pytest.raises(DataError, match="row x_01.jpg: RLE value 99999999999999999999 is too "):
        carvana.parse_rle("1 99999999999999999999", 100, "train_masks.csv row x_01.jpg")


def test_stray_files_are_skipped_and_named_and_upper_case_jpg_read(carvana_copy):
    train = carvana_copy / "train"
    (carvana_copy / "train_masks.csv").unlink()  # its rows name x.jpg; the GIF masks serve
    first = sorted(train.glob("*.jpg"))[0]
    first.rename(first.with_suffix(".JPG"))
    (train / f"._{first.name}").write_bytes(b"\x00\x05\x16\x07")
    (train / "thumbs").mkdir()
    (train / "notes.txt").write_text("hello")
    pairs = carvana.list_pairs(carvana_copy)
    assert first.with_suffix(".JPG") in [pair.image for pair in pairs]
    report = carvana.check(carvana_copy)
    assert report.ok, report.problems
    assert sorted(report.summary["skipped_files"]) == sorted([
        f"{train / ('._' + first.name)} (hidden file)", f"{train / 'notes.txt'} (not a .jpg)",
        f"{train / 'thumbs'} (folder)"])
    for path in list(train.iterdir()):
        if path.suffix.lower() == ".jpg" and not path.name.startswith("."):
            path.unlink()
    with pytest.raises(DataError, match="empty folder \\(no .jpg images; it holds .*hidden"):
        carvana.list_pairs(carvana_copy)


def test_names_differing_in_case_are_matched_and_noted(carvana_copy, capsys):
    train, masks = carvana_copy / "train", carvana_copy / "train_masks"
    first, second = sorted(train.glob("*.jpg"))[:2]
    first.rename(first.with_suffix(".JPG"))  # its train_masks.csv row says .jpg
    gif = masks / carvana.mask_name(second.name)
    gif.rename(gif.with_suffix(".GIF"))
    (masks / f"._{gif.name}").write_bytes(b"\x00\x05\x16\x07")
    capsys.readouterr()
    by_csv = carvana.list_pairs(carvana_copy, mask_source="csv")
    assert by_csv[0].image.name == first.with_suffix(".JPG").name and by_csv[0].rle
    assert capsys.readouterr().err == (
        f"note: matched ignoring case (1): {first.stem}.JPG ~ {first.name}.\n")
    by_gif = carvana.list_pairs(carvana_copy, mask_source="gif")
    assert by_gif[1].mask == gif.with_suffix(".GIF")
    err = capsys.readouterr().err
    assert f"{masks / ('._' + gif.name)} (hidden file)" in err
    assert f"{second.name} ~ {gif.stem}.GIF" in err
    report = carvana.check(carvana_copy)
    assert report.ok, report.problems
    assert report.summary["matched_ignoring_case"] == [f"{second.name} ~ {gif.stem}.GIF"]
    with (carvana_copy / "train_masks.csv").open("a") as stream:
        stream.write(f"{first.name.upper()},1 2\n")
    with pytest.raises(DataError, match=f"rows {first.name} and {first.name.upper()} differ "
                                        "only in case"):
        carvana.list_pairs(carvana_copy, mask_source="csv")


def test_problems_past_the_fifth_are_counted_not_listed():
    from unet.data.pairs import raise_problems

    raise_problems([])
    with pytest.raises(DataError) as raised:
        raise_problems([f"x_{i}.jpg: bad." for i in range(7)])
    assert str(raised.value).splitlines() == ["7 problem(s) in the data:", "x_0.jpg: bad.",
                                              "x_1.jpg: bad.", "x_2.jpg: bad.", "x_3.jpg: bad.",
                                              "x_4.jpg: bad.", "and 2 more"]
