"""The report folder `memory/`: `README.md`, `sweep.csv` and PNG figures, rebuilt from the run
folders alone so that it always agrees with them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from unet import environment, experiments, viz
from unet.callbacks import read_history, write_csv_atomic, write_text_atomic
from unet.config import RunConfig

SWEEP_COLUMNS = ("run", "status", "learning_rate", "batch_size", "kernel_size", "epochs_done",
                 "epochs_planned", "best_epoch", "dice", "iou", "mean_dice", "mean_iou",
                 "pixel_accuracy", "train_seconds", "train_images_per_second", "parameters")


def _score_name(rows) -> str:
    return "dice" if any("dice" in r for r in rows) else "mean_dice"


def _format(value, digits=4):
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 1e-3 or value == 0 else f"{value:g}"
    return "" if value is None else str(value)


def _overlay_figure(memory: Path, best_row: dict, count: int = 3):
    """Best and worst validation images of the best run, predicted by its `best.keras`."""
    from unet import checkpoints, evaluation
    from unet.data import image_files, sources

    run_dir = memory / "runs" / best_row["run"]
    model_path = checkpoints.find_checkpoint(run_dir, "best")
    per_image = run_dir / "per_image.csv"
    if model_path is None or not per_image.is_file():
        return None
    config = RunConfig.load(run_dir / "config.json")
    score = "dice" if config.model.num_classes == 1 else "mean_dice"
    with per_image.open() as stream:
        scored = sorted(csv.DictReader(stream), key=lambda r: float(r[score]))
    best_rows = scored[::-1][:count]
    worst_rows = [row for row in scored[:count] if row not in best_rows]
    chosen = [("best", row) for row in best_rows] + [("worst", row) for row in worst_rows]
    _, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    by_name = {pair.name: pair for pair in val_pairs}
    chosen = [(kind, row) for kind, row in chosen if row["image"] in by_name]
    pairs = [by_name[row["image"]] for _, row in chosen]
    model = checkpoints.load_model(model_path, compile=False)
    panels, titles = [], []
    predictions = evaluation.predict_native(
        model, pairs, image_size=config.data.image_size, num_classes=config.model.num_classes,
        resize_mode=config.data.resize_mode)
    for (pair, probabilities), (kind, row) in zip(predictions, chosen):
        image = image_files.decode(pair.image, "RGB")
        truth = sources.read_native_mask(pair, config.data.dataset)
        predicted = evaluation.labels_from_probabilities(probabilities, config.model.num_classes)
        if config.model.num_classes == 1:
            panels += [viz.overlay(image, predicted), viz.error_map(image, truth, predicted)]
        else:
            panels += [viz.class_map(predicted), viz.class_map(truth)]
        label = f"{kind}: {pair.name} Dice {float(row[score]):.4f}"
        titles += [label, "errors: red FP, blue FN" if config.model.num_classes == 1 else "truth"]
    return viz.image_grid(panels, columns=4, titles=titles)


def write_report(memory=None, command: str | None = None, overlays: bool = True) -> Path:
    """Writes `README.md`, `sweep.csv` and figures into the report folder; returns README's path.

    Args:
        memory: The report folder (default: `unet.experiments.memory_dir()`).
        command: The command that produced the runs, quoted in the report and kept in
            `report.json`; `None` keeps the one recorded there by an earlier report.
        overlays: Draw prediction overlays (needs the best run's `best.keras`).
    """
    memory = experiments.memory_dir(memory)
    recorded = memory / "report.json"
    if command is None:
        saved = json.loads(recorded.read_text()) if recorded.is_file() else {}
        command = saved.get("command", "python -m unet report")
    rows = experiments.summarize(memory)
    if not rows:
        raise FileNotFoundError(f"No runs under {memory / 'runs'}: run a sweep first.")
    score = _score_name(rows)
    write_csv_atomic(memory / "sweep.csv", rows, SWEEP_COLUMNS)
    figures = []
    histories = {r["run"]: read_history(memory / "runs" / r["run"] / "history.csv") for r in rows}
    viz.save_figure(viz.plot_learning_curves(histories), memory / "learning_curves.png")
    figures.append(("Learning curves", "learning_curves.png"))
    finished = [r for r in rows if r["status"] == "finished"]
    if finished:
        viz.save_figure(viz.plot_score_vs_learning_rate(finished, score),
                        memory / "dice_vs_learning_rate.png")
        figures.append((f"Validation {score} against learning rate", "dice_vs_learning_rate.png"))
        if overlays:
            figure = _overlay_figure(memory, finished[0])
            if figure is not None:
                viz.save_figure(figure, memory / "overlays_best_worst.png")
        if (memory / "overlays_best_worst.png").is_file():
            figures.append(("Best and worst validation images of the best run",
                            "overlays_best_worst.png"))

    config = RunConfig.load(memory / "runs" / rows[0]["run"] / "config.json")
    # Recorded by the best run when it trained; described now only for runs that predate that.
    env = finished[0].get("environment") if finished else None
    env = env or environment.describe()
    lines = [
        "# Experiment report",
        "",
        f"Made by `{command}`; regenerate with `python -m unet report`. Every number below is "
        "read from the run folders in `runs/` (checkpoints and logs are not committed).",
        "",
        "## What was run",
        "",
        f"- Dataset: `{config.data.dataset}`"
        + (f" ({config.data.synthetic_cars} generated cars, "
           f"{config.data.synthetic_image_size[1]}x{config.data.synthetic_image_size[0]} px)"
           if config.data.dataset == "synthetic" else "")
        + f", validation split by car ({config.data.val_fraction:.0%} of cars)",
        f"- Preset `{config.preset}`: images {config.data.image_size[1]}x"
        f"{config.data.image_size[0]}, U-Net with {config.model.filters} base filters, "
        f"depth {config.model.depth}, loss `{config.train.loss}`, "
        f"{config.train.epochs} epochs",
        f"- Environment: TensorFlow {env['tensorflow']}, Keras {env['keras']}, Python "
        f"{env['python']}, {env['device']}, commit `{env['commit']}`",
        f"- Scores: validation {score} at each image's native size (per image, then averaged), "
        "from the best epoch's checkpoint",
        "",
        "## Grid",
        "",
        f"| run | lr | batch | kernel | epochs | best epoch | val {score} | val IoU | "
        "train time (s) | images/s | parameters | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    iou = "iou" if score == "dice" else "mean_iou"
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['learning_rate']:g} | {r['batch_size']} | {r['kernel_size']} | "
            f"{r['epochs_done']}/{r['epochs_planned']} | {_format(r.get('best_epoch'))} | "
            f"{_format(r.get(score))} | {_format(r.get(iou))} | "
            f"{_format(r.get('train_seconds'), 1)} | "
            f"{_format(r.get('train_images_per_second'), 1)} | "
            f"{_format(r.get('parameters'))} | {r['status']} |")
    if finished:
        best = finished[0]
        lines += ["", f"Best: `{best['run']}` with validation {score} "
                      f"{best[score]:.4f}; spread over finished points "
                      f"{np.ptp([r[score] for r in finished]):.4f}."]
    lines += [""]
    for title, name in figures:
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    lines += ["Also here: `sweep.csv` (one row per grid point).", ""]
    readme = memory / "README.md"
    write_text_atomic(readme, "\n".join(lines))
    write_text_atomic(recorded, json.dumps({"command": command}, indent=2) + "\n")
    return readme
