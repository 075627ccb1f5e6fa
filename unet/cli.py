"""The command line: `python -m unet {demo,train,evaluate,sweep,report,predict,export,app,data}`."""

from __future__ import annotations

import argparse
import json
import sys


def _data_check(args) -> int:
    from unet.data import DataError, carla, carvana

    try:
        if args.dataset == "carvana":
            report = carvana.check(args.data_dir)
        else:
            report = carla.check(args.data_dir, num_classes=args.num_classes)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
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
    check.add_argument("--num-classes", type=int, default=23, help="CARLA class count")
    check.set_defaults(handler=_data_check)

    synthetic = data_commands.add_parser(
        "synthetic", help="generate a look-alike dataset in the real on-disk format")
    synthetic.add_argument("--dataset", choices=("carvana", "carla"), required=True)
    synthetic.add_argument("--out", required=True)
    synthetic.add_argument("--count", type=int, default=4,
                           help="cars for Carvana (16 images each), scenes for CARLA")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                           help="default: the real size (1280 1918 or 480 640)")
    synthetic.add_argument("--test-cars", type=int, default=0,
                           help="Carvana: cars written to test/ without masks")
    synthetic.set_defaults(handler=_data_synthetic)


def _add_config_arguments(parser) -> None:
    """The flags that shape a run; each overrides the preset's value when given."""
    parser.add_argument("--preset", default="cpu", help="smoke, cpu, colab_gpu or full")
    parser.add_argument("--dataset", choices=("synthetic", "carvana", "carla"))
    parser.add_argument("--data-dir", help="the dataset folder (default: generated data)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--kernel-size", type=int)
    parser.add_argument("--filters", type=int)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--model", choices=("unet", "mobilenetv2"))
    parser.add_argument("--encoder-weights", choices=("imagenet", "none"),
                        help="MobileNetV2 encoder: ImageNet weights (downloaded) or none")
    parser.add_argument("--loss", choices=("bce", "dice", "bce_dice", "sparse_ce"))
    parser.add_argument("--val-fraction", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))


def config_from_args(args):
    """The preset, with every flag that was given applied on top."""
    from unet.config import preset

    config = preset(args.preset)
    model, data, train = {}, {}, {}
    if args.dataset:
        data["dataset"] = args.dataset
        if args.dataset == "carla":
            model["num_classes"] = 23
            train["loss"] = "sparse_ce"
            data["image_size"] = (96, 128)  # the assignment's size, unless given
        elif config.model.num_classes != 1:
            model["num_classes"] = 1
    if args.dataset is None and config.data.dataset != "synthetic" and not args.data_dir:
        data["dataset"] = "synthetic"  # no data given: the generated set
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
    return config.override(model=model, data=data, train=train)


def _train(args) -> int:
    from unet import experiments
    from unet.training import TrainingDiverged, train

    config = config_from_args(args)
    run_dir = args.run_dir or experiments.run_dir_for(config, args.memory_dir)
    print(f"Run {config.name} in {run_dir}")
    try:
        result = train(config, run_dir, verbose=args.verbose)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in result.items() if k != "per_class"}, indent=2))
    return 0


def _evaluate(args) -> int:
    from pathlib import Path

    from unet import checkpoints, evaluation
    from unet.config import RunConfig
    from unet.data import sources

    model_path = Path(args.model)
    saved = model_path.parent / "config.json"
    config = RunConfig.load(saved) if saved.is_file() else config_from_args(args)
    data = {}
    if args.dataset:
        data["dataset"] = args.dataset
    if args.data_dir:
        data["data_dir"] = args.data_dir
    if args.image_size:
        data["image_size"] = tuple(args.image_size)
    config = config.override(data=data)
    model = checkpoints.load_model(model_path, compile=False)
    train_pairs, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    pairs = {"val": val_pairs, "train": train_pairs, "all": train_pairs + val_pairs}[args.split]
    summary, _ = evaluation.evaluate(
        model, pairs, dataset=config.data.dataset, image_size=config.data.image_size,
        num_classes=config.model.num_classes, batch_size=args.batch_size or 8,
        resize_mode=config.data.resize_mode)
    print(json.dumps(summary, indent=2))
    return 0


def _grid(args, config):
    from unet import experiments

    return experiments.grid_configs(config, args.learning_rates, args.batch_sizes,
                                    args.kernel_sizes)


def _sweep(args) -> int:
    from unet import experiments, report

    configs = _grid(args, config_from_args(args))
    rows = experiments.run_grid(configs, args.memory_dir, verbose=args.verbose)
    for row in rows:
        print(f"{row['run']}: {row['status']}, val dice {row.get('dice', row.get('mean_dice'))}")
    if not args.no_report:
        print(f"Report: {report.write_report(args.memory_dir, command=_command_line())}")
    return 0


def _report(args) -> int:
    from unet import report

    print(report.write_report(args.memory_dir, overlays=not args.no_overlays))
    return 0


def _demo(args) -> int:
    from unet import experiments, report
    from unet.config import preset

    base = preset("cpu")
    grid = experiments.DEMO_GRID
    configs = experiments.grid_configs(base, grid["learning_rates"], grid["batch_sizes"],
                                       grid["kernel_sizes"])
    print(f"Demo: {len(configs)} grid points of the 'cpu' preset on generated Carvana-like data")
    experiments.run_grid(configs, args.memory_dir, verbose=2)
    path = report.write_report(args.memory_dir, command="make demo")
    print(f"\nReport written to {path}")
    return 0


def _predict(args) -> int:
    from unet.data import DataError
    from unet.inference import predict_folder

    try:
        result = predict_folder(
            args.model, args.input, args.output, overlay=args.overlay, tta=args.tta,
            threshold=args.threshold, submission=args.submission, batch_size=args.batch_size,
            image_size=tuple(args.image_size) if args.image_size else None)
    except (DataError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
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
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--", "--model", args.model]
    return subprocess.call(command)


def _command_line() -> str:
    return "python -m unet " + " ".join(sys.argv[1:])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m unet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="generate data, run a small grid, write the report")
    demo.add_argument("--memory-dir", help="report folder (default: $UNET_MEMORY_DIR or memory/)")
    demo.set_defaults(handler=_demo)

    train = commands.add_parser("train", help="train one run (resumes if interrupted)")
    _add_config_arguments(train)
    train.add_argument("--run-dir", help="default: <memory>/runs/<lr..._bs..._k...>")
    train.add_argument("--memory-dir", help="report folder (default: $UNET_MEMORY_DIR or memory/)")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="score a model at native resolution")
    evaluate.add_argument("--model", required=True, help="a .keras file")
    evaluate.add_argument("--preset", default="cpu",
                          help="used when no config.json lies beside the model")
    evaluate.add_argument("--dataset", choices=("synthetic", "carvana", "carla"))
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                          help="the size the model was trained at")
    evaluate.add_argument("--batch-size", type=int)
    evaluate.add_argument("--split", choices=("val", "train", "all"), default="val")
    evaluate.set_defaults(handler=_evaluate)

    sweep = commands.add_parser("sweep", help="run the learning-rate x batch x kernel grid")
    _add_config_arguments(sweep)
    sweep.add_argument("--learning-rates", type=float, nargs="+")
    sweep.add_argument("--batch-sizes", type=int, nargs="+")
    sweep.add_argument("--kernel-sizes", type=int, nargs="+")
    sweep.add_argument("--memory-dir", help="report folder (default: $UNET_MEMORY_DIR or memory/)")
    sweep.add_argument("--no-report", action="store_true")
    sweep.set_defaults(handler=_sweep)

    report = commands.add_parser("report", help="rewrite the report from the run folders")
    report.add_argument("--memory-dir", help="report folder (default: $UNET_MEMORY_DIR or memory/)")
    report.add_argument("--no-overlays", action="store_true")
    report.set_defaults(handler=_report)

    predict = commands.add_parser("predict", help="masks at native size, overlays, submission")
    predict.add_argument("--model", required=True, help="a .keras file")
    predict.add_argument("--input", required=True, nargs="+", help="a folder or image files")
    predict.add_argument("--output", help="folder for <name>_mask.png (and overlays)")
    predict.add_argument("--overlay", action="store_true", help="also write <name>_overlay.jpg")
    predict.add_argument("--tta", choices=("flip",), help="average the horizontal flip in")
    predict.add_argument("--threshold", type=float, default=0.5)
    predict.add_argument("--submission", help="Kaggle img,rle_mask file (.csv.gz), resumable")
    predict.add_argument("--batch-size", type=int, default=4)
    predict.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                         help="training size, when no config.json lies beside the model")
    predict.set_defaults(handler=_predict)

    export = commands.add_parser("export", help="SavedModel (TF Serving) or TFLite")
    export.add_argument("--model", required=True)
    export.add_argument("--format", choices=("saved_model", "tflite"), required=True)
    export.add_argument("--out", help="default: beside the model")
    export.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"))
    export.set_defaults(handler=_export)

    app = commands.add_parser("app", help="the Streamlit web demo")
    app.add_argument("--model", required=True)
    app.set_defaults(handler=_app)

    _add_data_commands(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
