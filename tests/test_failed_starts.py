"""A refused configuration, or a new run that fails before its first epoch, leaves no run folder
(`report --all` lists none); advice names flags that exist; `--steps-per-epoch` epochs are whole."""

import contextlib
import csv
import io
import json
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unet import cli


def _main(*args, capsys):
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("flags, named", [
    (["--depth", "12"], "height 32 (--image-size) is smaller than 2**depth = 4096 (depth=12), "
                        "and each level halves it: 32x48 takes --depth 4 or less."),
    (["--depth", "4", "--image-size", "40", "56"], "height 40 (--image-size) is not divisible"),
    (["--depth", "2", "--crop-size", "30", "30"], "height 30 (--crop-size) is not divisible by "
                                                  "2**depth = 4 (depth=2); use 28 or 32."),
    (["--model", "mobilenetv2", "--image-size", "32", "48"], "width 48 (--image-size)"),
    (["--recipe", "coursera-carla"], "num_classes=23"),  # 23 classes on car masks
    (["--recipe", "softmax-unet", "--loss", "bce"], "needs loss 'sparse_ce'"),
])
def test_a_refused_configuration_writes_no_run_folder(flags, named, carvana_dir, tmp_path,
                                                      capsys):
    runs = tmp_path / "runs"
    code, _, err = _main("train", "--preset", "smoke", "--dataset", "carvana", "--data-dir",
                         carvana_dir, "--runs-dir", runs, "--verbose", "0", *flags,
                         capsys=capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert named in err and not runs.exists()


@pytest.mark.slow  # a first epoch on 40 scenes
def test_a_class_id_out_of_range_found_in_training_leaves_no_run(tmp_path, capsys):
    from unet.data import synthetic

    data = synthetic.make_carla_like(tmp_path / "carla", count=40, image_size=(32, 48), seed=1,
                                     progress=False)
    mask_path = sorted((data / "CameraMask").iterdir())[-1]
    mask = np.array(Image.open(mask_path))
    mask[0, 0, 0] = 200  # CARLA's class id is the red channel; 23 classes
    Image.fromarray(mask).save(mask_path)
    runs = tmp_path / "runs" / "sub"  # the folders above the run are the command's too
    code, _, err = _main("train", "--preset", "smoke", "--dataset", "carla", "--data-dir", data,
                         "--image-size", "32", "48", "--runs-dir", runs, "--verbose", "0",
                         capsys=capsys)
    assert code == 1 and f"{mask_path}: class id 200 is out of range" in err
    assert err.count("\n") == 1 and not (tmp_path / "runs").exists()
    # A run folder the user named, holding their own file: only what training wrote goes.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    code, _, _ = _main("train", "--preset", "smoke", "--dataset", "carla", "--data-dir", data,
                       "--image-size", "32", "48", "--run-dir", mine, "--verbose", "0",
                       capsys=capsys)
    assert code == 1 and [p.name for p in mine.iterdir() if p.name != ".lock"] == ["notes.txt"]


def _commands_help() -> str:
    """Every command's `--help`, through the parser's public interface."""
    texts = []

    def help_of(*words):
        stream = io.StringIO()
        with contextlib.redirect_stdout(stream), contextlib.suppress(SystemExit):
            cli.build_parser().parse_args([*words, "--help"])
        texts.append(stream.getvalue())
        return stream.getvalue()

    top = help_of()
    for command in re.search(r"\{([a-z,]+)\}", top).group(1).split(","):
        text = help_of(command)
        if command == "data":
            for sub in re.search(r"\{([a-z,]+)\}", text).group(1).split(","):
                help_of(command, sub)
    return "\n".join(texts)


def test_every_flag_named_in_a_message_exists():
    """Advice such as "pad images (--resize-mode pad)" must name a flag a user can type."""
    known = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", _commands_help()))
    assert {"--resize-mode", "--restart", "--steps-per-epoch", "--encoder-weights"} <= known
    # tensorboard's, git's and `ray start`'s, in printed commands
    other_programs = {"--logdir", "--short", "--head"}
    flag = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*(?![\w.=-])")
    named = {}
    root = Path(cli.__file__).parents[1]
    for path in sorted(root.rglob("*.py")):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if token.type == tokenize.STRING or token.type == getattr(
                    tokenize, "FSTRING_MIDDLE", None):
                for name in flag.findall(token.string):
                    named.setdefault(name, f"{path.relative_to(root)}:{token.start[0]}")
    assert len(named) > 20  # the scan found the messages
    unknown = {name: where for name, where in named.items()
               if name not in known | other_programs}
    assert unknown == {}


@pytest.mark.slow  # trains two short epochs
def test_steps_per_epoch_beyond_the_data_trains_whole_epochs_and_counts_them(
        carvana_dir, tmp_path, run_cli):
    done = run_cli("train", "--preset", "smoke", "--dataset", "carvana", "--data-dir",
                   carvana_dir, "--image-size", "32", "48", "--epochs", "2", "--batch-size",
                   "4", "--steps-per-epoch", "15", "--runs-dir", "runs", "--verbose", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ran out of data" not in done.stderr and "15/15" in done.stdout
    (metrics,) = (tmp_path / "runs").rglob("metrics.json")
    scores = json.loads(metrics.read_text())
    assert scores["train_images"] == 32 and scores["train_images_per_epoch"] == 60
    with open(metrics.parent / "history.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    # The second epoch's 14 steps after its first (4 images each) over their time.
    expected = (60 - 4) / float(rows[1]["steps_seconds"])
    assert scores["train_images_per_second"] == pytest.approx(expected, rel=0.01)


def test_repeated_data_gives_full_batches_beyond_one_pass(carvana_dir):
    from unet.config import preset
    from unet.data import sources

    config = preset("smoke").for_dataset("carvana").override(
        data={"data_dir": str(carvana_dir), "image_size": (32, 48)})
    train, _ = sources.split(config.data, seed=0)
    batches = train.make_dataset(image_size=(32, 48), batch_size=5, training=True,
                                 repeat=True).take(3 * len(train) // 5 + 2)
    sizes = [int(images.shape[0]) for images, _ in batches]
    assert len(sizes) == 3 * len(train) // 5 + 2 and set(sizes) == {5}
