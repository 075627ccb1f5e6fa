"""The commands that train and score runs: `recipes`, `train`, `sweep`, `evaluate`, `report`,
`demo`; and the configuration flags, each setting one field of the run's configuration."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing

from unet import config as run_config
from unet.cli.flags import (
    DATASET_HELP,
    MODEL,
    POSITIVE_INT,
    PREDICTION_SIZE,
    REPORT,
    RUNS,
    TRAINED_SIZE,
    naming,
)
from unet.errors import EXIT_DATA, UsageError
from unet.presets import PRESETS
from unet.recipes import RECIPES

# The configuration fields a flag sets (`section.field`), with the flag where it is not the
# field's name and a help text where the name is not enough. Types and choices follow from the
# field; the dataclasses check every value.
CONFIG_FLAGS = (
    ("data.data_dir", None, "the dataset folder (default: generated data); for tfds:NAME, the "
                            "TFDS folder it was prepared in"),
    ("data.image_size", None, None),
    ("data.resize_mode", None, "fit images to --image-size by resizing, or by padding (sizes "
                               "that the depth does not divide)"),
    ("train.epochs", None, None),
    ("train.batch_size", None, None),
    ("train.learning_rate", None, None),
    ("model.kernel_size", None, None),
    ("model.filters", None, None),
    ("model.depth", None, None),
    ("model.architecture", "--model", None),
    ("model.encoder_weights", None, "MobileNetV2 encoder: ImageNet weights (downloaded) or none"),
    ("train.loss", None, None),
    ("data.crop_size", None, "train on random crops of this size of the --image-size images; "
                             "0 0 trains on whole images"),
    ("data.val_fraction", None, None),
    ("train.seed", None, None),
    ("train.steps_per_epoch", None, "batches per epoch, drawn from the training images "
                                    "repeated (default: each image once per epoch)"),
    ("data.augment", "--no-augment", None),
    ("train.mixed_precision", None, None),
    ("train.jit_compile", None, None),
    ("model.num_classes", None, "classes (default: the dataset's; a folder dataset's come from "
                                "its masks or label map)"),
    ("data.ignore_index", None, "folder dataset: the mask value (RGB masks: the class) marking "
                                "void pixels, left out of the loss and every score (VOC: 255)"),
    ("data.group_by", None, "folder dataset: a regular expression whose first group names an "
                            "image's group (a patient, a video), kept on one side of the split"),
)
_CHOICES = {"model.architecture": run_config.ARCHITECTURES, "train.loss": run_config.LOSSES,
            "model.encoder_weights": run_config.ENCODER_WEIGHTS,
            "data.resize_mode": run_config.RESIZE_MODES}
_SECTIONS = {"model": run_config.ModelConfig, "data": run_config.DataConfig,
             "train": run_config.TrainConfig}


def _value_type(hint) -> type:
    """What a flag parses for a field typed `hint`: `int | None` -> int, `tuple[int, int]` ->
    tuple."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def _flag_of(name: str, flag: str | None) -> str:
    return flag or "--" + name.split(".")[1].replace("_", "-")


def add_config_flags(parser) -> None:
    """Adds `--preset`, `--recipe`, `--dataset` and a flag per `CONFIG_FLAGS` field; a flag not
    given leaves no attribute, so the preset's value stays."""
    parser.add_argument("--preset", choices=tuple(PRESETS),
                        help="default: cpu; with --recipe, the published size (smoke and cpu "
                             "scale the recipe down)")
    parser.add_argument("--recipe", choices=tuple(RECIPES),
                        help="a published U-Net (python -m unet recipes lists them)")
    parser.add_argument("--dataset", metavar="NAME", help=DATASET_HELP)
    fields = {f"{section}.{field.name}": field for section, kind in _SECTIONS.items()
              for field in dataclasses.fields(kind)}
    hints = {f"{section}.{name}": hint for section, kind in _SECTIONS.items()
             for name, hint in typing.get_type_hints(kind).items()}
    for name, flag, text in CONFIG_FLAGS:
        field = fields[name]
        kind = _value_type(hints[name])
        options = {"dest": name, "default": argparse.SUPPRESS, "help": text}
        if kind is bool:
            options["action"] = "store_false" if field.default else "store_true"
        elif kind is tuple:
            options.update(type=int, nargs=2, metavar=("H", "W"))
        elif name in _CHOICES:
            choices = _CHOICES[name]
            options.update(choices=choices, metavar="{" + ",".join(map(str, choices)).lower() + "}")
            if None in choices:
                options["type"] = lambda text: None if text == "none" else text
        else:
            options.update(type=kind, metavar=field.name.upper())
        parser.add_argument(_flag_of(name, flag), **options)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 silent, 1 progress bars, 2 one line per epoch")


def config_from_args(args) -> run_config.RunConfig:
    """The preset (or the recipe), with every configuration flag that was given applied on top.

    Raises:
        unet.errors.UsageError: a value a field refuses, naming its flag.
    """
    given = {name: value for name, value in vars(args).items() if "." in name}
    flags = {name: _flag_of(name, flag) for name, flag, _ in CONFIG_FLAGS if name in given}
    flags.update({"data.dataset": "--dataset"} if args.dataset else {})
    sections = {"model": {}, "data": {}, "train": {}}
    for name, value in given.items():
        section, field = name.split(".")
        sections[section][field] = tuple(value) if isinstance(value, list) else value
    data, crop = sections["data"], None
    with naming(flags):
        config = _recipe_config(args, data) if args.recipe else _preset_config(args, data)
        if not args.recipe and "crop_size" not in data:
            crop = run_config.preset(args.preset or "cpu").data.crop_size  # said if dropped
        if data.get("crop_size") == (0, 0):
            data["crop_size"] = None  # whole images
        elif "image_size" in data and "crop_size" not in data and config.data.crop_size:
            crop = config.data.crop_size
            if not run_config.crop_fits(crop, data["image_size"]):
                data["crop_size"] = None
        config = config.override(**sections)
    if config.data.dataset == "folder":
        from unet.data import sources

        config = sources.complete(config, num_classes=sections["model"].get("num_classes"))
        print(f"Folder dataset {config.data.data_dir}: {config.data.mask_encoding} masks, "
              f"{config.model.num_classes} class(es), loss {config.train.loss}.")
    if crop and config.data.crop_size is None:
        size = config.data.image_size
        print(f"Training on whole {size[0]}x{size[1]} images: the preset's {crop[0]}x{crop[1]} "
              "crops do not fit in them (--crop-size H W sets others).")
    return config


def _preset_config(args, data: dict) -> run_config.RunConfig:
    """`--preset` (cpu by default) on `--dataset`, on Carvana's layout when only `--data-dir`
    is given (as a recipe reads it), or on the generated set when no data is given."""
    config = run_config.preset(args.preset or "cpu")
    if args.dataset:
        return config.for_dataset(args.dataset)
    if data.get("data_dir"):
        # a folder given: read as Carvana's files, and recorded (and reported) so, not as the
        # generated set that the preset would otherwise make
        return config.for_dataset("carvana") if config.data.dataset == "synthetic" else config
    if config.data.dataset != "synthetic":
        return config.for_dataset("synthetic")  # no data given: the generated set
    return config


def _recipe_config(args, data: dict) -> run_config.RunConfig:
    """The recipe's configuration (scaled down for `--preset smoke/cpu`, saying so), moved to
    `--dataset`, or to the generated Carvana-like set when a Carvana recipe has no data."""
    from unet import recipes

    config, note = (recipes.recipe(args.recipe).scaled(args.preset) if args.preset
                    else (recipes.recipe(args.recipe).config, ""))
    if note:
        print(f"Recipe {args.recipe}: {note}.")
    dataset = args.dataset
    if dataset is None and config.data.dataset == "carvana" and not data.get("data_dir"):
        dataset = "synthetic"  # no data given: the generated set
    if dataset:
        config = config.override(data=run_config.dataset_fields(dataset))
    return config


def sweep_configs(args, config) -> list:
    """The points `sweep` trains: the published grid (a recipe's own grid, else its own point)
    around `config`, with `--learning-rates`, `--batch-sizes`, `--kernel-sizes` replacing axes."""
    from unet import experiments, recipes

    default = recipes.PUBLISHED_GRID
    if args.recipe:
        default = recipes.recipe(args.recipe).grid or experiments.DEMO_GRID
    axes = (("train.learning_rate", "--learning-rates", args.learning_rates),
            ("train.batch_size", "--batch-sizes", args.batch_sizes),
            ("model.kernel_size", "--kernel-sizes", args.kernel_sizes))
    for _, flag, values in axes:
        repeated = sorted({value for value in values or () if values.count(value) > 1})
        if repeated:  # one point per value: a repeated one would train the same run twice
            print(f"{flag}: {', '.join(map(str, repeated))} given more than once; one point "
                  "each.")
    with naming({field: flag for field, flag, values in axes if values}):
        return experiments.grid_configs(config, args.learning_rates, args.batch_sizes,
                                        args.kernel_sizes, default=default)


def add_commands(commands) -> None:
    """Adds `demo`, `recipes`, `train`, `evaluate`, `sweep` and `report` to `commands`."""
    demo = commands.add_parser(
        "demo", parents=[RUNS, REPORT],
        help="generate data, train the cpu preset, publish the report in memory/")
    demo.add_argument("--preset", default="cpu", choices=tuple(PRESETS),
                      help="cpu (the README's demo) or smoke (seconds, for tests)")
    demo.set_defaults(handler=_demo)

    listing = commands.add_parser(
        "recipes", help="list the published U-Nets that --recipe reproduces, with their figures")
    listing.set_defaults(handler=_recipes, tensorflow=False)

    train = commands.add_parser("train", parents=[RUNS],
                                help="train one run (resumes if interrupted)")
    add_config_flags(train)
    train.add_argument("--run-dir",
                       help="default: <runs root>/<dataset>/<preset>/<lr..._bs..._k...>")
    train.add_argument("--strategy", choices=("auto", "mirrored"), default="auto",
                       help="mirrored: one run on all GPUs of this machine (data parallel); "
                            "auto: a TPU, else all GPUs when there are several, else one device")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", parents=[MODEL, TRAINED_SIZE, PREDICTION_SIZE],
                                   help="score a model at native resolution")
    evaluate.add_argument("--preset", default="cpu", choices=tuple(PRESETS),
                          help="used when no config.json lies beside the model")
    evaluate.add_argument("--dataset", metavar="NAME", help=DATASET_HELP)
    evaluate.add_argument("--data-dir", help="the dataset folder, or the TFDS folder")
    evaluate.add_argument("--batch-size", type=POSITIVE_INT)
    evaluate.add_argument("--split", choices=("val", "train", "all"), default="val")
    evaluate.add_argument("--tta", choices=run_config.TTA_MODES, default="none",
                          help="flip: average the horizontal flip's prediction in")
    evaluate.set_defaults(handler=_evaluate)

    sweep = commands.add_parser("sweep", parents=[RUNS, REPORT],
                                help="run the learning-rate x batch x kernel grid")
    add_config_flags(sweep)
    sweep.add_argument("--learning-rates", type=float, nargs="+")
    sweep.add_argument("--batch-sizes", type=int, nargs="+")
    sweep.add_argument("--kernel-sizes", type=int, nargs="+")
    sweep.add_argument("--no-report", action="store_true")
    sweep.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: one point after another in this process; ray: each point "
                            "a Ray Tune trial (pip install \".[ray]\")")
    sweep.add_argument("--address",
                       help="with --backend ray: join this running cluster (auto, "
                            "ray://host:port); default: a local cluster of this machine")
    sweep.add_argument("--trials-in-parallel", type=int, metavar="N",
                       help="with --backend ray: points trained at once (default: one per "
                            "GPU, else 1)")
    sweep.add_argument("--dashboard", action="store_true",
                       help="with --backend ray: start Ray's dashboard on the local cluster")
    sweep.set_defaults(handler=_sweep)

    report = commands.add_parser(
        "report", parents=[RUNS, REPORT],
        help="rewrite the report from the run folders (those it lists, or --all)")
    report.add_argument("--all", action="store_true", help="every run under the runs root")
    report.add_argument("--no-overlays", action="store_true")
    report.set_defaults(handler=_report)


def _recipes(args) -> int:
    from unet import recipes

    print(recipes.table())
    print("\nRun one: python -m unet train --recipe NAME [--data-dir DIR] (published size, "
          "for a GPU), or add --preset cpu / smoke to scale it down for a CPU; "
          "python -m unet sweep --recipe ctu-grid runs its grid.")
    return 0


def _train(args) -> int:
    from unet import experiments
    from unet.training import check_config, select_strategy, train

    config = config_from_args(args)
    check_config(config)  # a refused configuration is refused before its run is announced
    run_dir = args.run_dir or experiments.run_dir_for(config, args.runs_dir)
    strategy = select_strategy(mirrored=args.strategy == "mirrored")
    print(f"Run {config.name} in {run_dir} ({type(strategy).__name__}, "
          f"{strategy.num_replicas_in_sync} replica(s))")
    result = train(config, run_dir, verbose=args.verbose, strategy=strategy)
    print(json.dumps({k: v for k, v in result.items() if k not in ("per_class", "environment")},
                     indent=2))
    return 0


def _evaluate(args) -> int:
    from unet import checkpoints, evaluation
    from unet.data import sources
    from unet.run_folder import config_for_model

    model = checkpoints.load_model(args.model, compile=False)
    config = config_for_model(args.model, model, preset_name=args.preset, dataset=args.dataset,
                              data_dir=args.data_dir, image_size=args.image_size)
    if config.data.dataset == "folder" and config.data.mask_encoding is None:
        config = sources.complete(config, num_classes=int(model.output_shape[-1]))
    train_source, val_source = sources.split(config.data, seed=config.train.seed)
    source = {"val": val_source, "train": train_source,
              "all": train_source.concatenate(val_source)}[args.split]
    summary, _ = evaluation.evaluate(
        model, source, dataset=config.data.dataset, binary=config.data.binary,
        image_size=config.data.image_size,
        num_classes=config.model.num_classes, batch_size=args.batch_size or 8,
        resize_mode=config.data.resize_mode, tta=args.tta,
        prediction_size=tuple(args.prediction_size) if args.prediction_size else None,
        ignore_index=config.data.void_label, class_names=source.class_names)
    print(json.dumps(summary, indent=2))
    return 0


def _sweep(args) -> int:
    from unet import experiments, report
    from unet.run_folder import primary_score

    configs = sweep_configs(args, config_from_args(args))
    if args.backend == "ray":
        from unet import ray_backend

        rows = ray_backend.run_grid(configs, args.runs_dir, address=args.address,
                                    trials_in_parallel=args.trials_in_parallel,
                                    dashboard=args.dashboard, verbose=args.verbose)
    else:
        ray_flags = [flag for flag, value in (("--address", args.address),
                                              ("--trials-in-parallel", args.trials_in_parallel),
                                              ("--dashboard", args.dashboard)) if value]
        if ray_flags:
            raise UsageError(f"{', '.join(ray_flags)}: only with --backend ray.")
        rows = experiments.run_grid(configs, args.runs_dir, verbose=args.verbose)
    for row in rows:
        score = primary_score(row)
        if row["status"] == "damaged":
            print(f"{row['folder']}: damaged, left as it is (the error below says why)")
        else:
            print(f"{row['folder']}: {row['status']}"
                  + (f", val {score} {row[score]:.4f}" if score in row else ""))
    damaged = [row["problem"] for row in rows if row["status"] == "damaged"]
    if not args.no_report and len(damaged) < len(rows):
        run_dirs = [experiments.run_dir_for(c, args.runs_dir) for c in configs]
        path = report.write_report(args.runs_dir, args.report_dir,
                                   "python -m unet " + " ".join(sys.argv[1:]),
                                   run_dirs=run_dirs)
        print(f"Report: {path}")
    return _damaged_runs(damaged)


def _damaged_runs(problems) -> int:
    """Prints one `error:` line per damaged run; the exit code (1 when there is any)."""
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"error: {len(problems)} run(s) left as they are, the others done; do as said "
              "above and rerun.", file=sys.stderr)
    return EXIT_DATA if problems else 0


def _report(args) -> int:
    from unet import experiments, report

    run_dirs = experiments.find_runs(args.runs_dir) if args.all else None
    # Every run is not what the recorded command made: the report says what made it.
    command = "python -m unet report --all" if args.all else None
    damaged = []
    print(report.write_report(args.runs_dir, args.report_dir, command,
                              overlays=not args.no_overlays, run_dirs=run_dirs,
                              damaged=damaged))
    return _damaged_runs([str(error) for error in damaged])


def _demo(args) -> int:
    from unet import experiments, paths, report
    from unet.config import preset
    from unet.data import carvana, sources
    from unet.run_folder import RunFolder

    configs = experiments.grid_configs(preset(args.preset), default=experiments.DEMO_GRID)
    runs = paths.runs_dir(args.runs_dir)
    print(f"Demo: {len(configs)} run(s) of the '{args.preset}' preset on generated "
          f"Carvana-like data, in {runs}/", flush=True)
    rows = experiments.run_grid(configs, args.runs_dir, verbose=2)
    run_dirs = [experiments.run_dir_for(c, args.runs_dir) for c in configs]
    path = report.write_report(args.runs_dir, args.report_dir, "make demo", run_dirs=run_dirs)
    print(f"\nReport written to {path}")
    finished = [row for row in rows if row["status"] == "finished"]
    if finished:  # what to try next, with the paths the demo wrote
        model = RunFolder(runs / finished[0]["folder"]).best
        test_images = carvana.list_test_images(sources.dataset_dir(configs[0].data))[0].parent
        print(f"Best model: {model}\nNext:\n"
              f"  python -m unet evaluate --model {model}\n"
              f"  python -m unet predict --model {model} --input {test_images} "
              "--output predictions --overlay\n"
              f"  python -m unet export --model {model} --format saved_model\n"
              f"  python -m unet app --model {model}\n"
              f"  tensorboard --logdir {runs}")
    return 0
