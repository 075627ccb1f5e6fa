"""`data check`, `data synthetic` and `data download`: validate a dataset folder, generate a
look-alike, or fetch the real one from Kaggle."""

from __future__ import annotations

from unet.cli.flags import POSITIVE_INT
from unet.errors import UsageError
from unet.presets import PRESETS

DATASETS = ("carvana", "carla", "folder")  # the on-disk formats


def add_commands(commands) -> None:
    """Adds `data {check,synthetic,download}` to the `commands` subparsers."""
    data = commands.add_parser("data", help="generate or validate datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)

    check = data_commands.add_parser(
        "check", help="validate a dataset folder; exits non-zero on problems")
    check.add_argument("--dataset", choices=DATASETS, required=True)
    check.add_argument("--data-dir", required=True)
    check.add_argument("--num-classes", type=POSITIVE_INT,
                       help="class count (default: CARLA's 23; a folder's, from its masks)")
    check.add_argument("--ignore-index", type=int, metavar="VALUE",
                       help="folder: the mask value (RGB masks: the class) marking void")
    check.add_argument("--group-by", metavar="REGEX",
                       help="folder: the first group of REGEX in a name names its group")
    check.add_argument("--preset", default="cpu", choices=tuple(PRESETS),
                       help="folder: show the split `train --preset` makes (default: cpu, "
                            "train's default)")
    check.add_argument("--val-fraction", type=float,
                       help="folder: default: the preset's data.val_fraction")
    check.add_argument("--seed", type=int,
                       help="folder: the split's seed (default: the preset's train.seed)")
    check.set_defaults(handler=_check, tensorflow=False)  # numpy and PIL only

    synthetic = data_commands.add_parser(
        "synthetic", help="generate a look-alike dataset in the real on-disk format")
    synthetic.add_argument("--dataset", choices=DATASETS, required=True)
    synthetic.add_argument("--out", required=True)
    synthetic.add_argument("--count", type=POSITIVE_INT, default=4,
                           help="cars for Carvana (16 images each), scenes for CARLA, images "
                                "for a folder")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--image-size", type=POSITIVE_INT, nargs=2, metavar=("H", "W"),
                           help="default: the real size (1280 1918 or 480 640); folder: 96 128")
    synthetic.add_argument("--test-cars", type=int, default=0, choices=range(0, 1000),
                           metavar="N", help="Carvana: cars written to test/ without masks")
    synthetic.add_argument("--encoding", default="palette",
                           choices=("binary", "ids", "ids16", "palette", "rgb"),
                           help="folder: how masks encode classes (rgb writes labelmap.txt)")
    synthetic.add_argument("--layout", default="images-masks", choices=("images-masks", "voc"),
                           help="folder: images/ + masks/, or Pascal VOC's folders and lists")
    synthetic.add_argument("--void-band", type=int, default=0, metavar="PX",
                           help="folder: a void (255) band this wide along class edges")
    synthetic.add_argument("--mixed-sizes", action="store_true",
                           help="folder: every other image a quarter larger")
    synthetic.add_argument("--groups", type=int, default=0, metavar="N",
                           help="folder: name images g<k>_<n>, N groups")
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
    from unet.data import carla, carvana, folder

    if args.dataset != "folder" and (args.ignore_index is not None or args.group_by):
        raise UsageError("--ignore-index and --group-by are a folder dataset's (--dataset "
                         "folder).")
    if args.dataset == "folder":
        from unet.config import preset

        # the split training makes: the preset's fraction and seed unless given here
        config = preset(args.preset)
        val_fraction = (config.data.val_fraction if args.val_fraction is None
                        else args.val_fraction)
        seed = config.train.seed if args.seed is None else args.seed
        report = folder.check(args.data_dir, num_classes=args.num_classes,
                              ignore_index=args.ignore_index, group_by=args.group_by,
                              val_fraction=val_fraction, seed=seed)
        if not report.summary["split"].startswith("VOC"):  # VOC's lists ignore both
            report.summary["split"] += (f" (as train --preset {args.preset} splits: "
                                        f"val_fraction {val_fraction}, seed {seed})")
    elif args.dataset == "carvana":
        report = carvana.check(args.data_dir)
    else:
        classes = {"num_classes": args.num_classes} if args.num_classes else {}
        report = carla.check(args.data_dir, **classes)
    print(report.format())
    return 0 if report.ok else 1


def _synthetic(args) -> int:
    """Generates with `synthetic.generate`: atomically, under a lock, refusing a concurrent
    generation and an `--out` that holds files."""
    from pathlib import Path

    from unet.data import synthetic
    from unet.errors import UsageError

    out = Path(args.out)
    size = {"image_size": tuple(args.image_size)} if args.image_size else {}  # else the real one

    def make(partial):
        if args.dataset == "folder":
            synthetic.make_folder_like(
                partial, count=args.count, seed=args.seed, encoding=args.encoding,
                layout=args.layout, void_band=args.void_band, mixed_sizes=args.mixed_sizes,
                groups=args.groups, **size)
        elif args.dataset == "carvana":
            synthetic.make_carvana_like(partial, cars=args.count, seed=args.seed,
                                        test_cars=args.test_cars, **size)
        else:
            synthetic.make_carla_like(partial, count=args.count, seed=args.seed, **size)

    if not synthetic.generate(out, make, wait=False):
        raise UsageError(f"argument --out: {out} already exists and is not empty; choose "
                         "a new folder (generated sets are never mixed with other files).")
    what = {"folder": f"{args.encoding} image/mask pairs ({args.layout})",
            "carvana": "cars x 16 views"}.get(args.dataset, "scenes")
    print(f"wrote {args.count} {what} to {out}")
    return 0


def _download(args) -> int:
    from unet.data import download

    download.download_carvana(args.data_dir, args.archives_dir)
    return 0
