"""The commands that use a trained model: `predict`, `export` and `app`."""

from __future__ import annotations

import json
import sys

from unet.cli.flags import MODEL, POSITIVE_INT, PREDICTION_SIZE, TRAINED_SIZE, fraction
from unet.config import EXPORT_FORMATS, TTA_MODES


def add_commands(commands) -> None:
    """Adds `predict`, `export` and `app` to the `commands` subparsers."""
    predict = commands.add_parser(
        "predict", parents=[MODEL, TRAINED_SIZE, PREDICTION_SIZE],
        help="masks at native size, overlays, submission",
        description="Predicts every image of --input. A bad image is named on stderr and the "
                    "others are still predicted; the exit status is then 1, and a submission "
                    "stays unfinished until a rerun (which predicts only what is missing) "
                    "completes it. A finished submission is reported, not redone. A submission "
                    "or mask folder holds one run's results: a rerun with another model, "
                    "threshold, TTA, size or input is refused (--restart starts it over).")
    predict.add_argument("--input", required=True, nargs="+", help="a folder or image files")
    predict.add_argument("--output", help="folder for <name>_mask.png (and overlays)")
    predict.add_argument("--overlay", action="store_true", help="also write <name>_overlay.jpg")
    predict.add_argument("--tta", choices=("auto", *TTA_MODES), default="auto",
                         help="average the horizontal flip's logits in; auto: when the run's "
                         "metrics.json scored higher with it")
    predict.add_argument("--threshold", type=fraction, default=0.5)
    predict.add_argument("--submission", help="Kaggle img,rle_mask file (.csv.gz), resumable")
    predict.add_argument("--batch-size", type=POSITIVE_INT, default=4)
    predict.add_argument("--restart", action="store_true",
                         help="start the submission (and the --output folder's masks) over when "
                         "they were made with other settings or inputs, instead of refusing")
    predict.set_defaults(handler=_predict)

    export = commands.add_parser("export", parents=[MODEL, TRAINED_SIZE],
                                 help="SavedModel (TF Serving) or TFLite")
    export.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    export.add_argument("--out", help="default: beside the model")
    export.set_defaults(handler=_export)

    app = commands.add_parser("app", parents=[MODEL], help="the Streamlit web demo")
    app.add_argument("--port", type=POSITIVE_INT, default=8501)
    app.set_defaults(handler=_app)


def _predict(args) -> int:
    from unet.predict_files import predict_folder

    result = predict_folder(
        args.model, args.input, args.output, overlay=args.overlay, tta=args.tta,
        threshold=args.threshold, submission=args.submission, batch_size=args.batch_size,
        image_size=tuple(args.image_size) if args.image_size else None,
        prediction_size=tuple(args.prediction_size) if args.prediction_size else None,
        restart=args.restart)
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

    from unet import checkpoints

    app = Path(__file__).parents[1] / "app.py"
    # Loaded once here so that a file that is no model is refused before a server starts.
    checkpoints.load_model(args.model, compile=False)
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port",
               str(args.port), "--browser.gatherUsageStats", "false", "--server.headless",
               "true", "--", "--model", args.model]
    print(f"Web demo on http://localhost:{args.port} (Ctrl-C stops it)")
    return subprocess.call(command)
