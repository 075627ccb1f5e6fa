"""`data check`, `data synthetic` and `data download`: validate a dataset folder, generate a
look-alike, or fetch the real one from Kaggle."""

from __future__ import annotations

from unet.cli.flags import POSITIVE_INT

DATASETS = ("carvana", "carla")  # the on-disk formats


def add_commands(commands) -> None:
    """Adds `data {check,synthetic,download}` to the `commands` subparsers."""
    data = commands.add_parser("data", help="generate or validate datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)

    check = data_commands.add_parser(
        "check", help="validate a dataset folder; exits non-zero on problems")
    check.add_argument("--dataset", choices=DATASETS, required=True)
    check.add_argument("--data-dir", required=True)
    check.add_argument("--num-classes", type=POSITIVE_INT,
                       help="CARLA class count (default: the assignment's 23)")
    check.set_defaults(handler=_check)

    synthetic = data_commands.add_parser(
        "synthetic", help="generate a look-alike dataset in the real on-disk format")
    synthetic.add_argument("--dataset", choices=DATASETS, required=True)
    synthetic.add_argument("--out", required=True)
    synthetic.add_argument("--count", type=POSITIVE_INT, default=4,
                           help="cars for Carvana (16 images each), scenes for CARLA")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                           help="default: the real size (1280 1918 or 480 640)")
    synthetic.add_argument("--test-cars", type=int, default=0, choices=range(0, 1000),
                           metavar="N", help="Carvana: cars written to test/ without masks")
    synthetic.set_defaults(handler=_synthetic, tensorflow=False)  # numpy and PIL only

    download = data_commands.add_parser(
        "download", help="fetch a dataset from Kaggle once (archives kept), extract and check it")
    download.add_argument("--dataset", choices=("carvana",), required=True)
    download.add_argument("--data-dir", help="where to extract (default: data/carvana)")
    download.add_argument("--archives-dir",
                          help="where the zip archives are kept (default: $UNET_ARCHIVES_DIR, "
                               "else data/archives)")
    download.set_defaults(handler=_download, tensorflow=False)


def _check(args) -> int:
    from unet.data import carla, carvana

    if args.dataset == "carvana":
        report = carvana.check(args.data_dir)
    else:
        classes = {"num_classes": args.num_classes} if args.num_classes else {}
        report = carla.check(args.data_dir, **classes)
    print(report.format())
    return 0 if report.ok else 1


def _synthetic(args) -> int:
    from unet.data import synthetic

    size = {"image_size": tuple(args.image_size)} if args.image_size else {}  # else the real one
    if args.dataset == "carvana":
        out = synthetic.make_carvana_like(args.out, cars=args.count, seed=args.seed,
                                          test_cars=args.test_cars, **size)
        print(f"wrote {args.count} cars x 16 views to {out}")
    else:
        out = synthetic.make_carla_like(args.out, count=args.count, seed=args.seed, **size)
        print(f"wrote {args.count} scenes to {out}")
    return 0


def _download(args) -> int:
    from unet.data import download

    download.download_carvana(args.data_dir, args.archives_dir)
    return 0
