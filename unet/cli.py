"""The command line: `python -m unet {demo,recipes,train,evaluate,sweep,report,predict,...}`.

Exit codes: 0 done, 1 a problem in the data or an input file, 2 a usage or configuration error
(including a run folder that holds another configuration, or one in use), 3 training diverged,
130 interrupted (Ctrl-C). Errors print one `error: ...` line; `UNET_DEBUG=1` adds the
traceback, and TensorFlow's own start-up messages.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys

PRESET_NAMES = ("smoke", "cpu", "colab_gpu", "full")  # unet.config.PRESETS, without importing TF
RECIPE_NAMES = ("tf2-unet", "ctu-grid", "softmax-unet", "mobilenetv2-pix2pix", "coursera-carla")
EXIT_DATA, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 2, 3, 130


def _positive(kind):
    """An argparse type: a finite number above zero."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a finite number above 0; received {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _fraction(text):
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; received {text}")
    return value


def _odd(text):
    value = _positive(int)(text)
    if value % 2 == 0:
        raise argparse.ArgumentTypeError(f"must be odd (3, 5, 7); received {text}")
    return value


POSITIVE_INT, POSITIVE_FLOAT = _positive(int), _positive(float)
DATASET_HELP = ("synthetic, carvana, carla, or a prepared TFDS dataset read from --data-dir: "
                "tfds:carvana, tfds:carla (optionally /<size>, e.g. tfds:carvana/256x384)")


def _dataset(text):
    """An argparse type: a dataset name (`unet.config.dataset_fields` says which)."""
    from unet.config import dataset_fields  # no TensorFlow there

    try:
        dataset_fields(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _data_check(args) -> int:
    from unet.data import carla, carvana

    if args.dataset == "carvana":
        report = carvana.check(args.data_dir)
    else:
        report = carla.check(args.data_dir, num_classes=args.num_classes)
    print(report.format())
    return 0 if report.ok else 1


def _data_synthetic(args) -> int:
    from unet.data import synthetic

    if args.dataset == "carvana":
        size = tuple(args.image_size) if args.image_size else (1280, 1918)
        out = synthetic.make_carvana_like(args.out, cars=args.count, image_size=size,
                                          seed=args.seed, test_cars=args.test_cars)
        print(f"wrote {args.count} cars x 16 views to {out}")
    else:
        size = tuple(args.image_size) if args.image_size else (480, 640)
        out = synthetic.make_carla_like(args.out, count=args.count, image_size=size,
                                        seed=args.seed)
        print(f"wrote {args.count} scenes to {out}")
    return 0


def _add_data_commands(commands) -> None:
    data = commands.add_parser("data", help="generate or validate datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)

    check = data_commands.add_parser(
        "check", help="validate a dataset folder; exits non-zero on problems")
    check.add_argument("--dataset", choices=("carvana", "carla"), required=True)
    check.add_argument("--data-dir", required=True)
    check.add_argument("--num-classes", type=POSITIVE_INT, default=23, help="CARLA class count")
    check.set_defaults(handler=_data_check)

    synthetic = data_commands.add_parser(
        "synthetic", help="generate a look-alike dataset in the real on-disk format")
    synthetic.add_argument("--dataset", choices=("carvana", "carla"), required=True)
    synthetic.add_argument("--out", required=True)
    synthetic.add_argument("--count", type=POSITIVE_INT, default=4,
                           help="cars for Carvana (16 images each), scenes for CARLA")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                           help="default: the real size (1280 1918 or 480 640)")
    synthetic.add_argument("--test-cars", type=int, default=0, choices=range(0, 1000),
                           metavar="N",
                           help="Carvana: cars written to test/ without masks")
    synthetic.set_defaults(handler=_data_synthetic, tensorflow=False)  # numpy and PIL only


def _add_config_arguments(parser) -> None:
    """The flags that shape a run; each overrides the preset's value when given."""
    parser.add_argument("--preset", choices=PRESET_NAMES,
                        help="default: cpu; with --recipe, the published size (smoke and cpu "
                             "scale the recipe down)")
    parser.add_argument("--recipe", choices=RECIPE_NAMES,
                        help="a published U-Net (python -m unet recipes lists them)")
    parser.add_argument("--dataset", type=_dataset, metavar="NAME", help=DATASET_HELP)
    parser.add_argument("--data-dir", help="the dataset folder (default: generated data); for "
                        "tfds:NAME, the TFDS folder it was prepared in")
    parser.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"))
    parser.add_argument("--epochs", type=POSITIVE_INT)
    parser.add_argument("--batch-size", type=POSITIVE_INT)
    parser.add_argument("--learning-rate", type=POSITIVE_FLOAT)
    parser.add_argument("--kernel-size", type=_odd)
    parser.add_argument("--filters", type=POSITIVE_INT)
    parser.add_argument("--depth", type=POSITIVE_INT)
    parser.add_argument("--model", choices=("unet", "mobilenetv2"))
    parser.add_argument("--encoder-weights", choices=("imagenet", "none"),
                        help="MobileNetV2 encoder: ImageNet weights (downloaded) or none")
    parser.add_argument("--loss", choices=("bce", "dice", "bce_dice", "sparse_ce"))
    parser.add_argument("--crop-size", type=int, nargs=2, metavar=("H", "W"),
                        help="train on random crops of this size of the --image-size images; "
                        "0 0 trains on whole images")
    parser.add_argument("--val-fraction", type=_fraction)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps-per-epoch", type=POSITIVE_INT)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 silent, 1 progress bars, 2 one line per epoch")


def config_from_args(args):
    """The preset, with every flag that was given applied on top."""
    from unet.config import preset

    if getattr(args, "recipe", None):
        config = _recipe_config(args)
    else:
        config = preset(args.preset or "cpu")
        if args.dataset:
            config = config.for_dataset(args.dataset)
        elif config.data.dataset != "synthetic" and not args.data_dir:
            config = config.for_dataset("synthetic")  # no data given: the generated set
    model, data, train = {}, {}, {}
    for flag, section, key in (
        ("data_dir", data, "data_dir"), ("image_size", data, "image_size"),
        ("val_fraction", data, "val_fraction"), ("epochs", train, "epochs"),
        ("batch_size", train, "batch_size"), ("learning_rate", train, "learning_rate"),
        ("loss", train, "loss"), ("seed", train, "seed"),
        ("steps_per_epoch", train, "steps_per_epoch"), ("kernel_size", model, "kernel_size"),
        ("filters", model, "filters"), ("depth", model, "depth"),
        ("model", model, "architecture"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            section[key] = tuple(value) if flag == "image_size" else value
    if getattr(args, "encoder_weights", None):
        model["encoder_weights"] = None if args.encoder_weights == "none" else "imagenet"
    if getattr(args, "no_augment", None):
        data["augment"] = False
    if getattr(args, "mixed_precision", None):
        train["mixed_precision"] = True
    if getattr(args, "jit_compile", None):
        train["jit_compile"] = True
    crop = getattr(args, "crop_size", None)
    if crop is not None:
        if crop != [0, 0] and min(crop) < 1:
            raise ValueError(f"argument --crop-size: H and W must be above 0 (or both 0 for "
                             f"whole images); received {crop[0]} {crop[1]}")
        data["crop_size"] = None if crop == [0, 0] else tuple(crop)
    elif "image_size" in data and config.data.crop_size is not None:
        size, crop = data["image_size"], config.data.crop_size
        if crop[0] > size[0] or crop[1] > size[1]:
            data["crop_size"] = None
            print(f"Training on whole {size[0]}x{size[1]} images: the preset's "
                  f"{crop[0]}x{crop[1]} crops do not fit in them (--crop-size H W sets others).")
    return config.override(model=model, data=data, train=train)


def _recipe_config(args):
    """The recipe's configuration (scaled down for `--preset smoke/cpu`, saying so), moved to
    `--dataset`, or to the generated Carvana-like set when a Carvana recipe has no data."""
    from unet import recipes

    config, note = (recipes.recipe(args.recipe).scaled(args.preset) if args.preset
                    else (recipes.recipe(args.recipe).config, ""))
    if note:
        print(f"Recipe {args.recipe}: {note}.")
    dataset = args.dataset
    if dataset is None and config.data.dataset == "carvana" and not args.data_dir:
        dataset = "synthetic"  # no data given: the generated set
    if dataset:
        from unet.config import dataset_fields

        config = config.override(data=dataset_fields(dataset))
    return config


def _recipes(args) -> int:
    from unet import recipes

    print(recipes.table())
    print("\nRun one: python -m unet train --recipe NAME [--data-dir DIR] (published size, "
          "for a GPU), or add --preset cpu / smoke to scale it down for a CPU; "
          "python -m unet sweep --recipe ctu-grid runs its grid.")
    return 0


def _train(args) -> int:
    from unet import experiments
    from unet.training import train

    config = config_from_args(args)
    run_dir = args.run_dir or experiments.run_dir_for(config, args.runs_dir)
    print(f"Run {config.name} in {run_dir}")
    result = train(config, run_dir, verbose=args.verbose)
    print(json.dumps({k: v for k, v in result.items() if k not in ("per_class", "environment")},
                     indent=2))
    return 0


def _evaluate(args) -> int:
    from pathlib import Path

    from unet import checkpoints, evaluation
    from unet.config import RunConfig
    from unet.data import sources

    model_path = Path(args.model)
    saved = model_path.parent / "config.json"
    model = checkpoints.load_model(model_path, compile=False)
    if saved.is_file():
        config = RunConfig.load(saved)
    else:  # what the model itself says: its input size and class count
        from unet.config import binary_model, preset

        dataset = args.dataset or ("synthetic" if binary_model(model.output_shape[-1])
                                   else "carla")
        config = preset(args.preset).for_dataset(dataset)
        height, width = model.input_shape[1:3]
        config = config.override(data={"crop_size": None})  # evaluation sees whole images
        if height and width:
            config = config.override(data={"image_size": (height, width)})
        config = config.override(model={"num_classes": int(model.output_shape[-1])})
    data = {}
    if args.dataset:
        from unet.config import dataset_fields

        data.update(dataset_fields(args.dataset))
    if args.data_dir:
        data["data_dir"] = args.data_dir
    if args.image_size:
        data["image_size"] = tuple(args.image_size)
    config = config.override(data=data)
    train_pairs, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    pairs = {"val": val_pairs, "train": train_pairs, "all": train_pairs + val_pairs}[args.split]
    summary, _ = evaluation.evaluate(
        model, pairs, dataset=config.data.dataset, image_size=config.data.image_size,
        num_classes=config.model.num_classes, batch_size=args.batch_size or 8,
        resize_mode=config.data.resize_mode, tta=args.tta,
        prediction_size=tuple(args.prediction_size) if args.prediction_size else None)
    print(json.dumps(summary, indent=2))
    return 0


def _grid(args, config):
    from unet import experiments

    default = experiments.PUBLISHED_GRID
    if getattr(args, "recipe", None):  # a recipe's own grid, else its own point
        from unet import recipes

        default = recipes.recipe(args.recipe).grid or experiments.DEMO_GRID
    return experiments.grid_configs(config, args.learning_rates, args.batch_sizes,
                                    args.kernel_sizes, default=default)


def _sweep(args) -> int:
    from unet import experiments, report

    configs = _grid(args, config_from_args(args))
    rows = experiments.run_grid(configs, args.runs_dir, verbose=args.verbose)
    for row in rows:
        print(f"{row['folder']}: {row['status']}, "
              f"val {report.score_name([row])} {row.get('dice', row.get('mean_dice'))}")
    if not args.no_report:
        run_dirs = [experiments.run_dir_for(c, args.runs_dir) for c in configs]
        path = report.write_report(args.runs_dir, args.memory_dir, _command_line(),
                                   run_dirs=run_dirs)
        print(f"Report: {path}")
    return 0


def _report(args) -> int:
    from unet import experiments, report

    run_dirs = experiments.find_runs(args.runs_dir) if args.all else None
    # Every run is not what the recorded command made: the report says what made it.
    command = "python -m unet report --all" if args.all else None
    print(report.write_report(args.runs_dir, args.memory_dir, command,
                              overlays=not args.no_overlays, run_dirs=run_dirs))
    return 0


def _demo(args) -> int:
    from unet import experiments, report
    from unet.config import preset
    from unet.data import sources

    configs = experiments.grid_configs(preset(args.preset), default=experiments.DEMO_GRID)
    runs = experiments.runs_dir(args.runs_dir)
    print(f"Demo: {len(configs)} run(s) of the '{args.preset}' preset on generated "
          f"Carvana-like data, in {runs}/", flush=True)
    rows = experiments.run_grid(configs, args.runs_dir, verbose=2)
    run_dirs = [experiments.run_dir_for(c, args.runs_dir) for c in configs]
    path = report.write_report(args.runs_dir, args.memory_dir, "make demo", run_dirs=run_dirs)
    print(f"\nReport written to {path}")
    finished = [row for row in rows if row["status"] == "finished"]
    if finished:
        print(demo_next_steps(runs / finished[0]["folder"] / "best.keras",
                              sources.dataset_dir(configs[0].data) / "test", runs))
    return 0


def demo_next_steps(model, test_images, runs) -> str:
    """What to try after the demo, with the paths it wrote."""
    return (f"Best model: {model}\nNext:\n"
            f"  python -m unet evaluate --model {model}\n"
            f"  python -m unet predict --model {model} --input {test_images} "
            "--output predictions --overlay\n"
            f"  python -m unet export --model {model} --format saved_model\n"
            f"  python -m unet app --model {model}\n"
            f"  tensorboard --logdir {runs}")


def _predict(args) -> int:
    from unet.inference import auto_tta, predict_folder

    tta = args.tta
    if tta == "auto":
        tta, reason = auto_tta(args.model)
        print(reason)
    result = predict_folder(
        args.model, args.input, args.output, overlay=args.overlay, tta=tta,
        threshold=args.threshold, submission=args.submission, batch_size=args.batch_size,
        image_size=tuple(args.image_size) if args.image_size else None,
        prediction_size=tuple(args.prediction_size) if args.prediction_size else None)
    print(json.dumps(result, indent=2))
    for reason in result["failed"].values():
        print(f"error: {reason}", file=sys.stderr)
    if result["failed"]:
        print(f"error: {len(result['failed'])} image(s) not predicted; the others were "
              f"({result['images']} now). Fix or remove them and rerun.", file=sys.stderr)
        return 1
    return 0


def _export(args) -> int:
    from unet.export import export

    size = tuple(args.image_size) if args.image_size else None
    print(export(args.model, args.format, args.out, size))
    return 0


def _app(args) -> int:
    import subprocess
    from pathlib import Path

    app = Path(__file__).with_name("app.py")
    if not Path(args.model).is_file():
        raise FileNotFoundError(f"{args.model}: no such model file.")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port",
               str(args.port), "--browser.gatherUsageStats", "false", "--server.headless",
               "true", "--", "--model", args.model]
    print(f"Web demo on http://localhost:{args.port} (Ctrl-C stops it)")
    return subprocess.call(command)


def _command_line() -> str:
    return "python -m unet " + " ".join(sys.argv[1:])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m unet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    runs_help = "runs root (default: $UNET_RUNS_DIR or runs/)"
    memory_help = "report folder (default: $UNET_MEMORY_DIR or memory/)"
    demo = commands.add_parser(
        "demo", help="generate data, train the cpu preset, publish the report in memory/")
    demo.add_argument("--runs-dir", help=runs_help)
    demo.add_argument("--memory-dir", help=memory_help)
    demo.add_argument("--preset", default="cpu", choices=PRESET_NAMES,
                      help="cpu (the README's demo) or smoke (seconds, for tests)")
    demo.set_defaults(handler=_demo)

    listing = commands.add_parser(
        "recipes", help="list the published U-Nets that --recipe reproduces, with their figures")
    listing.set_defaults(handler=_recipes, tensorflow=False)

    train = commands.add_parser("train", help="train one run (resumes if interrupted)")
    _add_config_arguments(train)
    train.add_argument("--run-dir",
                       help="default: <runs root>/<dataset>/<preset>/<lr..._bs..._k...>")
    train.add_argument("--runs-dir", help=runs_help)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="score a model at native resolution")
    evaluate.add_argument("--model", required=True, help="a .keras file")
    evaluate.add_argument("--preset", default="cpu", choices=PRESET_NAMES,
                          help="used when no config.json lies beside the model")
    evaluate.add_argument("--dataset", type=_dataset, metavar="NAME", help=DATASET_HELP)
    evaluate.add_argument("--data-dir", help="the dataset folder, or the TFDS folder")
    evaluate.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                          help="the size the model was trained at")
    evaluate.add_argument("--batch-size", type=POSITIVE_INT)
    evaluate.add_argument("--split", choices=("val", "train", "all"), default="val")
    evaluate.add_argument("--tta", choices=("none", "flip"), default="none",
                          help="flip: average the horizontal flip's prediction in")
    evaluate.add_argument("--prediction-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                          help="predict at this size (default: the training size)")
    evaluate.set_defaults(handler=_evaluate)

    sweep = commands.add_parser("sweep", help="run the learning-rate x batch x kernel grid")
    _add_config_arguments(sweep)
    sweep.add_argument("--learning-rates", type=POSITIVE_FLOAT, nargs="+")
    sweep.add_argument("--batch-sizes", type=POSITIVE_INT, nargs="+")
    sweep.add_argument("--kernel-sizes", type=_odd, nargs="+")
    sweep.add_argument("--runs-dir", help=runs_help)
    sweep.add_argument("--memory-dir", help=memory_help)
    sweep.add_argument("--no-report", action="store_true")
    sweep.set_defaults(handler=_sweep)

    report = commands.add_parser(
        "report", help="rewrite the report from the run folders (those it lists, or --all)")
    report.add_argument("--runs-dir", help=runs_help)
    report.add_argument("--memory-dir", help=memory_help)
    report.add_argument("--all", action="store_true", help="every run under the runs root")
    report.add_argument("--no-overlays", action="store_true")
    report.set_defaults(handler=_report)

    predict = commands.add_parser(
        "predict", help="masks at native size, overlays, submission",
        description="Predicts every image of --input. A bad image is named on stderr and the "
                    "others are still predicted; the exit status is then 1, and a submission "
                    "stays unfinished until a rerun (which predicts only what is missing) "
                    "completes it. A finished submission is reported, not redone.")
    predict.add_argument("--model", required=True, help="a .keras file")
    predict.add_argument("--input", required=True, nargs="+", help="a folder or image files")
    predict.add_argument("--output", help="folder for <name>_mask.png (and overlays)")
    predict.add_argument("--overlay", action="store_true", help="also write <name>_overlay.jpg")
    predict.add_argument("--tta", choices=("auto", "flip", "none"), default="auto",
                         help="average the horizontal flip's logits in; auto: when the run's "
                         "metrics.json scored higher with it")
    predict.add_argument("--threshold", type=_fraction, default=0.5)
    predict.add_argument("--submission", help="Kaggle img,rle_mask file (.csv.gz), resumable")
    predict.add_argument("--batch-size", type=POSITIVE_INT, default=4)
    predict.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                         help="training size, when no config.json lies beside the model")
    predict.add_argument("--prediction-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                         help="predict at this size (default: the training size)")
    predict.set_defaults(handler=_predict)

    export = commands.add_parser("export", help="SavedModel (TF Serving) or TFLite")
    export.add_argument("--model", required=True)
    export.add_argument("--format", choices=("saved_model", "tflite"), required=True)
    export.add_argument("--out", help="default: beside the model")
    export.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"))
    export.set_defaults(handler=_export)

    app = commands.add_parser("app", help="the Streamlit web demo")
    app.add_argument("--model", required=True)
    app.add_argument("--port", type=POSITIVE_INT, default=8501)
    app.set_defaults(handler=_app, tensorflow=False)  # its server process loads it

    _add_data_commands(commands)
    return parser


def _quiet_tensorflow(verbose: bool) -> None:
    """Loads TensorFlow with its C++ start-up lines (`I0000 ...`, `E0000 ... cuInit`) hidden:
    noise to a user, kept reachable with `UNET_DEBUG=1`.

    TensorFlow 2.21 prints them before absl's logging is initialised, where
    `TF_CPP_MIN_LOG_LEVEL` does not reach, so standard error is pointed at /dev/null at the
    file-descriptor level while TensorFlow loads and looks for devices, then restored.
    """
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv=None) -> int:
    """Parses `argv`, runs the command, and turns every user-facing error into one line."""
    args = build_parser().parse_args(argv)
    debug = os.environ.get("UNET_DEBUG") == "1"
    try:
        if getattr(args, "tensorflow", True):  # commands that need none say so (set_defaults)
            _quiet_tensorflow(debug)
        return args.handler(args)
    except KeyboardInterrupt:
        print("\ninterrupted: finished epochs, checkpoints and submission rows are kept; run "
              "the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as raised:  # the boundary: user-facing errors become one line
        error = _unwrapped(raised)
        code = _exit_code(error)
        if code is None or debug:
            raise
        print(f"error: {error}", file=sys.stderr)
    # A tf.data pipeline stopped by an error (a bad mask) still has reads in flight, and its
    # iterator sits in reference cycles with the traceback's frames: collected at exit, it
    # waits for those reads while they wait for the interpreter, and the process hangs.
    # Collected now, while Python runs, the reads finish.
    gc.collect()
    return code


def _unwrapped(error):
    """The `DataError` inside a TensorFlow error (raised while a tf.data pipeline read a file),
    or `error` itself."""
    if not type(error).__module__.startswith("tensorflow"):
        return error
    from unet.data.pairs import data_error_in

    return data_error_in(error) or error


def _exit_code(error) -> int | None:
    """The exit code for an error a user can fix, or None for a bug (shown with traceback)."""
    name = type(error).__name__
    if name == "TrainingDiverged":
        return EXIT_DIVERGED
    if name in ("DataError", "CheckpointError", "FileNotFoundError", "IsADirectoryError",
                "NotADirectoryError", "PermissionError"):
        return EXIT_DATA
    if name in ("RunConflict", "Locked", "ValueError", "KaggleCredentialsMissing"):
        return EXIT_USAGE
    return None


if __name__ == "__main__":
    sys.exit(main())
