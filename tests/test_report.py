import csv

import numpy as np
import pytest
from PIL import Image

from unet import report

pytestmark = pytest.mark.slow


def test_report_lists_every_point_sorted_by_dice_with_figures(smoke_sweep, tmp_path):
    runs, rows = smoke_sweep
    memory = tmp_path / "memory"
    readme = report.write_report(runs, memory, command="pytest")
    text = readme.read_text()
    table = [line for line in text.splitlines() if line.startswith("| lr")]
    assert len(table) == 2
    dice = [float(line.split("|")[8]) for line in table]
    assert dice == sorted(dice, reverse=True)
    assert "TensorFlow" in text and "Keras" in text and "commit" in text
    for name in ("synthetic_learning_curves.png", "synthetic_score_vs_learning_rate.png",
                 "synthetic_overlays_best_worst.png"):
        assert f"]({name})" in text
        with Image.open(memory / name) as image:
            assert image.size[0] > 200 and image.size[1] > 100
    with (memory / "sweep.csv").open() as stream:
        sweep = list(csv.DictReader(stream))
    assert {r["folder"] for r in sweep} == {"synthetic/smoke/lr1e-3_bs4_k3",
                                            "synthetic/smoke/lr3e-3_bs4_k3"}
    assert float(sweep[0]["dice"]) == pytest.approx(rows[0]["dice"])


def test_report_is_rebuilt_from_the_run_folders_alone(smoke_sweep, tmp_path):
    runs, _ = smoke_sweep
    memory = tmp_path / "memory"
    first = report.write_report(runs, memory, command="make demo", overlays=False).read_text()
    (memory / "sweep.csv").unlink()
    (memory / "README.md").write_text("stale")
    second = report.write_report(runs, memory, overlays=False).read_text()  # as `unet report`
    assert first == second and "Made by `make demo`" in second
    assert (memory / "sweep.csv").is_file()


def test_report_puts_binary_and_multiclass_runs_in_their_own_tables(smoke_sweep, tmp_path):
    """Defect: a multi-class run beside binary ones crashed the report (KeyError: 'dice')
    after part of the folder had been rewritten."""
    import shutil

    from unet import experiments, training
    from unet.config import preset
    from unet.data import synthetic

    runs = shutil.copytree(smoke_sweep[0], tmp_path / "runs")
    carla_dir = synthetic.make_carla_like(tmp_path / "carla", count=40, image_size=(48, 64),
                                          progress=False)
    carla = preset("smoke").for_dataset("carla").override(
        data={"data_dir": str(carla_dir), "image_size": (32, 48)})
    training.train(carla, experiments.run_dir_for(carla, runs), verbose=0)
    memory = tmp_path / "memory"
    text = report.write_report(runs, memory, command="pytest", overlays=True).read_text()
    assert "## Dataset `synthetic`" in text and "## Dataset `carla`" in text
    carla_section = text[text.index("## Dataset `carla`"):]
    assert "val mean_dice" in carla_section and "| lr1e-3_bs4_k3 | `carla/smoke/" in carla_section
    assert (memory / "carla_overlays_best_worst.png").is_file()
    assert (memory / "synthetic_overlays_best_worst.png").is_file()


def test_a_failing_report_leaves_the_previous_one_whole(smoke_sweep, tmp_path, monkeypatch):
    runs, _ = smoke_sweep
    memory = tmp_path / "memory"
    report.write_report(runs, memory, command="first", overlays=False)
    before = {p.name: p.read_bytes() for p in memory.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report.viz, "plot_score_vs_learning_rate", broken)
    with pytest.raises(RuntimeError):
        report.write_report(runs, memory, command="second", overlays=False)
    assert {p.name: p.read_bytes() for p in memory.iterdir()} == before


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


def test_a_recipe_run_is_reported_beside_the_published_figure(softmax_run, smoke_sweep,
                                                              carvana_dir, tmp_path):
    import json

    from unet import cli

    runs = softmax_run.parents[2]
    memory = tmp_path / "memory"
    text = report.write_report(runs, memory, command="pytest",
                               run_dirs=[softmax_run]).read_text()
    assert (f"regenerate with `python -m unet report --runs-dir {runs} --report-dir {memory}`"
            in text)  # the folders it was written from and to
    section = text[text.index("## Recipes: our figure beside the published one"):]
    (line,) = [line for line in section.splitlines() if line.startswith("| `softmax-unet`")]
    assert line.endswith(" | no `smoke` preset run on the same data in this report |")
    line = line.removesuffix(" no `smoke` preset run on the same data in this report |")
    dice = json.loads((softmax_run / "metrics.json").read_text())["dice"]
    assert "published: test Dice 0.9805 (Carvana, held-out test cars, size not stated, " \
           "epochs not stated)" in line
    assert (f"ours: dice {dice:.4f} (carvana validation, 32x48, 1 epoch, preset "
            "softmax-unet-smoke, run `carvana/softmax-unet-smoke/") in line
    assert "| Scaled down for CPU (smoke): 32x48 instead of 128x192, " in line
    assert ("size (32x48, published 128x192); val fraction (0.34, published 0.2); epochs "
            "(1, published 10); base filters (4, published 64); ") in line
    assert line.endswith("; measure (ours: validation dice at each image's own size, published: "
                         "Dice on held-out test cars) |")
    assert (memory / "carvana_overlays_best_worst.png").is_file()
    # Beside the preset it was scaled to, trained on the same data: both scores, the gap, and
    # the settings the recipe changes.
    assert cli.main(["train", "--preset", "smoke", "--data-dir", str(carvana_dir), "--runs-dir",
                     str(runs := tmp_path / "runs"), "--verbose", "0"]) == 0
    (preset_run,) = [path.parent for path in runs.rglob("config.json")]
    preset_dice = json.loads((preset_run / "metrics.json").read_text())["dice"]
    text = report.write_report(runs, tmp_path / "beside", command="pytest",
                               run_dirs=[softmax_run, preset_run], overlays=False).read_text()
    (line,) = [line for line in text.splitlines() if line.startswith("| `softmax-unet`")]
    beside = line.split(" | ")[-1]
    assert beside.startswith(f"dice {dice:.4f} vs {preset_dice:.4f} ({dice - preset_dice:+.4f}, "
                             "run `")
    assert "smoke → recipe: " in beside and "model.num_classes 1 → 2" in beside
    assert "train.loss bce_dice → sparse_ce" in beside and "preset " not in beside
    # Runs of no recipe get no such section.
    plain = report.write_report(smoke_sweep[0], tmp_path / "plain", overlays=False).read_text()
    assert "## Recipes" not in plain


def test_recipes_are_found_from_the_preset_config_json_records():
    from unet import recipes
    from unet.config import preset

    item = recipes.recipe("ctu-grid")
    assert recipes.recipe_of(item.config) is item
    assert recipes.recipe_of(item.scaled("cpu")[0]) is item
    assert recipes.recipe_of(preset("cpu")) is None
    measure = ("measure (ours: validation dice at each image's own size, published: "
               "validation Dice of the best of 16 grid points, at 160x240)")
    assert item.differences(item.config) == measure
    assert item.differences(item.config.override(data={"dataset": "synthetic"})) == (
        "data (synthetic, published carvana); " + measure)
