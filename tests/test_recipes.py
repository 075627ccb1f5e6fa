import subprocess
import sys

import numpy as np
import pytest

from unet import recipes
from unet.config import RunConfig
from unet.model import build_model
from unet.run_folder import RunFolder


def test_every_recipe_is_listed_with_figure_data_size_epochs_and_source():
    table = recipes.table()
    for name, item in recipes.RECIPES.items():
        line = next(line for line in table.splitlines() if f"`{name}`" in line)
        for cell in (item.figure, item.data, item.size, item.epochs, item.source):
            assert cell and cell in line
    assert "0.9876" in table and "0.9805" in table and "8,640,471" in table


def test_recipes_command_prints_the_table_without_tensorflow():
    code = ("import sys, unet.cli; "
            "unet.cli.main(['recipes']); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().endswith("False")
    for name in recipes.RECIPES:
        assert f"`{name}`" in out.stdout
    assert "best validation Dice 0.9876" in out.stdout


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(ValueError, match="choose from .*coursera-carla"):
        recipes.recipe("nope")


@pytest.mark.parametrize("name, count", [("tf2-unet", 31_049_409), ("ctu-grid", 31_049_409),
                                         ("coursera-carla", 8_640_471)])
def test_published_parameter_counts(name, count):
    config = recipes.recipe(name).config
    model = build_model(config.model, (*config.data.image_size, 3))
    assert model.count_params() == count


def test_coursera_carla_is_the_assignments_network():
    config = recipes.recipe("coursera-carla").config
    model = build_model(config.model, (96, 128, 3))
    layers = {layer.name: layer for layer in model.layers}
    assert model.output_shape == (None, 96, 128, 23)
    assert not any("_bn" in name for name in layers)
    assert set(name for name in layers if name.endswith("_dropout")) == {
        "encoder4_dropout", "bottleneck_dropout"}
    assert layers["encoder4_dropout"].rate == pytest.approx(0.3)
    assert layers["decoder4_upsample"].kernel.shape == (3, 3, 256, 512)
    assert layers["decoder4_upsample"].strides == (2, 2)
    assert layers["head_conv"].kernel.shape == (3, 3, 32, 32)
    assert layers["head"].kernel.shape == (1, 1, 32, 23)
    assert layers["encoder1_conv1"].use_bias
    assert type(layers["encoder1_conv1"].kernel_initializer).__name__ == "HeNormal"
    # The skip connection carries the dropout (the assignment's conv_block returns it).
    assert layers["decoder4_concat"].input[1] is layers["encoder4_dropout"].output
    assert layers["encoder4_pool"].input is layers["encoder4_dropout"].output
    assert config.train.loss == "sparse_ce" and config.train.epochs == 40
    assert config.train.batch_size == 32 and config.train.learning_rate == 1e-3


def test_softmax_unet_emits_two_logits_per_pixel():
    config = recipes.recipe("softmax-unet").config
    assert config.model.num_classes == 2 and config.train.loss == "sparse_ce"


@pytest.mark.slow
def test_mobilenetv2_pix2pix_builds_without_downloadable_weights():
    config, note = recipes.recipe("mobilenetv2-pix2pix").scaled("smoke")
    assert config.model.encoder_weights is None and "random encoder weights" in note
    model = build_model(config.model, (*config.data.image_size, 3))
    logits = model(np.zeros((1, *config.data.image_size, 3), np.float32))
    assert tuple(logits.shape) == (1, *config.data.image_size, 1)
    assert model.get_layer("decoder1_bn") is not None


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
@pytest.mark.parametrize("preset_name", ["smoke", "cpu"])
def test_scaled_down_recipes_keep_the_architecture_and_say_what_changed(name, preset_name):
    item = recipes.recipe(name)
    config, note = item.scaled(preset_name)
    assert note.startswith(f"scaled down for CPU ({preset_name}):")
    published = item.config.model
    for field in ("architecture", "num_classes", "batch_norm", "dropout_rate",
                  "upsample_kernel_size", "head_conv", "kernel_initializer", "depth"):
        assert getattr(config.model, field) == getattr(published, field)
    assert config.train.loss == item.config.train.loss
    assert config.train.prediction_images > 0
    assert config.model.filters <= published.filters
    build_model(config.model, (*config.data.image_size, 3))  # the size fits the depth
    assert RunConfig.from_json(config.to_json()) == config


def test_gpu_presets_run_the_recipe_as_published():
    item = recipes.recipe("ctu-grid")
    assert item.scaled("colab_gpu") == (item.config, "")
    assert item.config.data.image_size == (160, 240) and item.config.train.epochs == 10
    assert item.grid == {"learning_rates": (5e-5, 1e-4, 2e-4, 5e-4), "batch_sizes": (16, 32),
                         "kernel_sizes": (3, 5)}


@pytest.fixture(scope="module")
def carla_blocks(tmp_path_factory):
    """Generated CARLA-like scenes spanning two blocks of frames (a split needs two)."""
    from unet.data import carla, synthetic

    return synthetic.make_carla_like(tmp_path_factory.mktemp("carla"),
                                     count=carla.FRAMES_PER_GROUP + 4, image_size=(48, 64),
                                     seed=5, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_each_recipe_trains_in_smoke_form_from_the_command_line(name, carvana_dir, carla_blocks,
                                                                 tmp_path, capsys):
    from unet import cli

    data_dir = carla_blocks if recipes.recipe(name).config.data.dataset == "carla" else carvana_dir
    code = cli.main(["train", "--recipe", name, "--preset", "smoke", "--data-dir",
                     str(data_dir), "--runs-dir", str(tmp_path), "--verbose", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"Recipe {name}: scaled down for CPU (smoke):" in out
    (config_path,) = tmp_path.rglob("config.json")
    saved = RunFolder(config_path.parent).read_config()
    assert saved.preset == f"{name}-smoke"
    assert saved.model == recipes.recipe(name).scaled("smoke")[0].model
    metrics = __import__("json").loads((config_path.parent / "metrics.json").read_text())
    score = "mean_dice" if saved.data.dataset == "carla" else "dice"
    assert 0.0 <= metrics[score] <= 1.0
    assert (config_path.parent / "logs" / "predictions").is_dir()


def test_softmax_unet_scores_dice_of_the_car_class(carvana_dir, tmp_path):
    """Carvana as 2 classes trains (masks are class ids 0/1) and is scored like the binary net:
    per-image Dice of the car class, not a mean with the background."""
    from unet import evaluation
    from unet.data import sources
    from unet.training import check_config

    config, _ = recipes.recipe("softmax-unet").scaled("smoke")
    config = config.override(data={"data_dir": str(carvana_dir)})
    check_config(config)
    with pytest.raises(ValueError, match="needs loss 'sparse_ce'"):
        check_config(config.override(train={"loss": "bce"}))
    with pytest.raises(ValueError, match="has 1 class"):
        check_config(config.override(model={"num_classes": 3}))
    _, val = sources.split(config.data)
    model = build_model(config.model, (*config.data.image_size, 3))
    # A model whose car logit always wins predicts the whole image as car.
    model.get_layer("head").bias.assign([-100.0, 100.0])
    model.get_layer("head").kernel.assign(np.zeros(model.get_layer("head").kernel.shape))
    summary, rows = evaluation.evaluate(model, val, dataset="carvana",
                                        image_size=config.data.image_size, num_classes=2,
                                        progress=False)
    truth = sources.read_native_mask(val.items[0], "carvana")
    expected = 2 * truth.sum() / (truth.sum() + truth.size)
    assert rows[0]["dice"] == pytest.approx(expected, rel=1e-6)
    assert "mean_dice" not in summary and "per_class" not in summary


def test_sweep_of_a_recipe_runs_its_own_grid_and_flags_still_win(capsys):
    from unet import cli
    from unet.cli import runs

    parser = cli.build_parser()
    args = parser.parse_args(["sweep", "--recipe", "ctu-grid"])
    configs = runs.sweep_configs(args, runs.config_from_args(args))
    assert len(configs) == 16
    assert {c.data.image_size for c in configs} == {(160, 240)}
    assert {(c.train.learning_rate, c.train.batch_size, c.model.kernel_size)
            for c in configs} == {(lr, bs, k) for lr in (5e-5, 1e-4, 2e-4, 5e-4)
                                  for bs in (16, 32) for k in (3, 5)}
    args = parser.parse_args(["sweep", "--recipe", "coursera-carla", "--preset", "cpu"])
    (config,) = runs.sweep_configs(args, runs.config_from_args(args))  # no grid: the recipe's point
    assert "scaled down for CPU (cpu)" in capsys.readouterr().out
    args = parser.parse_args(["sweep", "--recipe", "ctu-grid", "--learning-rates", "1e-3"])
    assert len(runs.sweep_configs(args, runs.config_from_args(args))) == 4


def test_our_figure_is_put_beside_the_published_one():
    item = recipes.recipe("coursera-carla")
    config, _ = item.scaled("cpu")
    line = item.beside({"pixel_accuracy": 0.91234, "epochs": 24}, config)
    assert "published: 8,640,471 parameters; training pixel accuracy 0.97-0.98" in line
    assert "96x128, 40 epochs" in line and "ours: pixel_accuracy 0.9123" in line
    assert "24 epochs, preset coursera-carla-cpu" in line
    line = recipes.recipe("ctu-grid").beside({"dice": 0.97}, recipes.recipe("ctu-grid").config)
    assert "best validation Dice 0.9876" in line and "ours: dice 0.9700" in line


def test_every_difference_from_the_recipe_is_named_and_always_the_measure():
    item = recipes.recipe("softmax-unet")
    faster = item.config.override(train={"learning_rate": 1e-3})
    assert item.differences(faster) == (
        "learning rate (1e-3, published 1e-4); measure (ours: validation dice at each image's "
        "own size, published: Dice on held-out test cars)")
    other = item.config.override(model={"depth": 3, "kernel_size": 5},
                                 train={"batch_size": 8, "loss": "dice"})
    assert item.differences(other).split("; ")[:-1] == [
        "depth (3, published 4)", "kernel (5, published 3)", "batch size (8, published 16)",
        "loss (dice, published sparse_ce)"]
    carla = recipes.recipe("coursera-carla")
    assert carla.differences(carla.config).endswith(
        "published: pixel accuracy on the training set)")
    # The parameter count depends on the network alone.
    count = recipes.recipe("tf2-unet")
    assert count.differences(count.config.override(train={"learning_rate": 1e-3})) == (
        "nothing (the count depends on the network alone)")
    assert count.differences(count.config.override(model={"architecture": "mobilenetv2"})) == (
        "architecture (mobilenetv2, published unet)")


def test_a_tfds_run_is_named_by_its_source_beside_the_recipe():
    item = recipes.recipe("ctu-grid")
    config = item.config.override(data={"tfds": "carvana/160x240"})
    line = item.beside({"dice": 0.97}, config)
    assert "(tfds:carvana/160x240 validation, 160x240" in line
    assert "data (tfds:carvana/160x240, published carvana)" in line


@pytest.mark.parametrize("preset_name", ["smoke", "cpu"])
def test_scaled_recipes_see_the_presets_images_and_keep_the_learning_rate_with_the_batch(
        preset_name):
    from unet.config import TrainConfig, preset

    budget = preset(preset_name).train
    small_batch = recipes.Recipe(
        name="small-batch", reproduces="-", figure="-", metric="dice", published=None,
        data="-", size="-", epochs="5", source="-",
        config=RunConfig(train=TrainConfig(epochs=5, batch_size=2, learning_rate=3e-4)))
    config, note = small_batch.scaled(preset_name)
    assert (config.train.batch_size, config.train.learning_rate) == (2, 3e-4)
    assert config.train.epochs == budget.epochs
    assert "learning rate" not in note
    # softmax-unet's batch of 16 shrinks to the preset's: the square-root rule for Adam.
    config, note = recipes.recipe("softmax-unet").scaled(preset_name)
    assert config.train.epochs == budget.epochs
    assert config.train.batch_size == budget.batch_size
    expected = float(f"{1e-4 * (budget.batch_size / 16) ** 0.5:.2g}")
    assert config.train.learning_rate == expected
    assert f"batch {budget.batch_size} instead of 16" in note and "square-root rule" in note


def test_a_scaled_runs_row_in_the_report_names_the_scaling():
    item = recipes.recipe("softmax-unet")
    config, note = item.scaled("cpu")
    line = item.beside({"dice": 0.95, "epochs": 40}, config)
    assert "Scaled down for CPU (cpu): " in line and "square-root rule" in line
    assert "Scaled down" not in item.beside({"dice": 0.95}, item.config)
