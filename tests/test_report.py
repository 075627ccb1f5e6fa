import csv

import numpy as np
import pytest
from PIL import Image

from unet import report

pytestmark = pytest.mark.slow


def test_report_lists_every_point_sorted_by_dice_with_figures(smoke_sweep):
    memory, rows = smoke_sweep
    readme = report.write_report(memory, command="pytest")
    text = readme.read_text()
    table = [line for line in text.splitlines() if line.startswith("| lr")]
    assert len(table) == 2
    dice = [float(line.split("|")[7]) for line in table]
    assert dice == sorted(dice, reverse=True)
    assert "TensorFlow" in text and "Keras" in text and "commit" in text
    for name in ("learning_curves.png", "dice_vs_learning_rate.png", "overlays_best_worst.png"):
        assert f"]({name})" in text
        with Image.open(memory / name) as image:
            assert image.size[0] > 200 and image.size[1] > 100
    with (memory / "sweep.csv").open() as stream:
        sweep = list(csv.DictReader(stream))
    assert {r["run"] for r in sweep} == {"lr1e-3_bs4_k3", "lr3e-3_bs4_k3"}
    assert float(sweep[0]["dice"]) == pytest.approx(rows[0]["dice"])


def test_report_is_rebuilt_from_the_run_folders_alone(smoke_sweep):
    memory, _ = smoke_sweep
    first = report.write_report(memory, command="make demo", overlays=False).read_text()
    (memory / "sweep.csv").unlink()
    (memory / "README.md").write_text("stale")
    second = report.write_report(memory, overlays=False).read_text()  # as `unet report` does
    assert first == second and "Made by `make demo`" in second
    assert (memory / "sweep.csv").is_file()


def test_viz_panels_colour_the_right_pixels():
    from unet import viz

    image = np.zeros((4, 4, 3), np.uint8)
    truth = np.zeros((4, 4), int)
    prediction = np.zeros((4, 4), int)
    truth[0, 0] = prediction[0, 0] = 1  # true positive
    prediction[1, 1] = 1  # false positive
    truth[2, 2] = 1  # false negative
    errors = viz.error_map(image, truth, prediction)
    assert errors[1, 1, 0] > errors[1, 1, 2]  # red
    assert errors[2, 2, 2] > errors[2, 2, 0]  # blue
    assert errors[3, 3].sum() == 0  # untouched
    assert tuple(viz.class_map(np.array([[7]]))[0, 0]) == (128, 64, 128)  # CARLA road
    figure = viz.image_grid([image] * 5, columns=2, titles=list("abcde"))
    assert len([a for a in figure.axes if a.images]) == 5
