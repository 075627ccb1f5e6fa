"""The report folder `memory/`: `README.md`, `sweep.csv`, `report.json` and PNG figures, rebuilt
from run folders alone so that it always agrees with them; one table per dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unet import environment, evaluation, experiments, files, paths, recipes, viz
from unet.config import format_epochs
from unet.errors import DamagedFile, MissingFile
from unet.run_folder import RunFolder, config_differences, primary_score

SWEEP_COLUMNS = ("dataset", "preset", "run", "folder", "status", "learning_rate", "batch_size",
                 "kernel_size", "epochs_done", "epochs_planned", "best_epoch", "dice", "iou",
                 "boundary_f", "mean_dice", "mean_iou", "pixel_accuracy", "train_seconds",
                 "train_images_per_second", "parameters")


def _format(value, digits=4):
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 1e-3 or value == 0 else f"{value:g}"
    return "" if value is None else str(value)


def overlay_figure(run_dir, count: int = 3):
    """Best and worst validation images of a finished run, predicted by its `best.keras`:
    prediction and error map (binary, colours explained in a legend), or prediction and truth
    (class maps with a legend). `None` if the run has no checkpoint or scores."""
    folder = RunFolder(run_dir)
    if not folder.best.is_file() or not folder.per_image.is_file():
        return None
    scored = folder.read_per_image()  # worst first
    score = primary_score(scored[0])
    best_rows = scored[::-1][:count]
    worst_rows = [row for row in scored[:count] if row not in best_rows]
    chosen = [("best", row) for row in best_rows] + [("worst", row) for row in worst_rows]
    panels, titles = [], []
    examples = evaluation.examples(run_dir, [row["image"] for _, row in chosen])
    binary = True
    for (kind, row), example in zip(chosen, examples):
        binary = example.num_classes == 1
        panels += [viz.prediction_picture(example.image, example.prediction, binary,
                                          example.class_colors),
                   viz.error_map(example.image, example.truth, example.prediction) if binary
                   else viz.class_map(example.truth, example.class_colors)]
        titles += [f"{kind}: {example.name} {score} {row[score]:.4f}",
                   "errors" if binary else "truth"]
    legend = (viz.ERROR_LEGEND if binary else viz.class_legend(
        [e.truth for e in examples] + [e.prediction for e in examples],
        examples[0].class_names, examples[0].class_colors))
    return viz.image_grid(panels, columns=4, titles=titles, legend=legend)


def _split_unit(data) -> str:
    """What the validation split keeps together, in words."""
    if data.dataset == "folder":
        return f"group (`{data.group_by}`)" if data.group_by else "image (or VOC's lists)"
    return "frame block" if data.dataset == "carla" else "car"


def markdown_table(rows) -> list[str]:
    """The runs of one dataset as Markdown table lines: axes, epochs, scores, speed, status."""
    score = primary_score(*rows)
    iou = "iou" if score == "dice" else "mean_iou"
    lines = [
        f"| run | folder | lr | batch | kernel | epochs | best epoch | val {score} | val IoU | "
        + ("boundary F | " if score == "dice" else "")
        + "train time (s) | images/s | parameters | status |",
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if score == "dice" else "")
        + "---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | `{r['folder']}` | {r['learning_rate']:g} | {r['batch_size']} | "
            f"{r['kernel_size']} | {r['epochs_done']}/{r['epochs_planned']} | "
            f"{_format(r.get('best_epoch'))} | {_format(r.get(score))} | {_format(r.get(iou))} | "
            + (f"{_format(r.get('boundary_f'))} | " if score == "dice" else "")
            + f"{_format(r.get('train_seconds'), 1)} | "
            f"{_format(r.get('train_images_per_second'), 1)} | "
            f"{_format(r.get('parameters'))} | {r['status']} |")
    return lines


def _dataset_section(dataset: str, rows: list[dict], folders: dict, overlays: bool):
    """Markdown lines and rendered figures `{file name: PNG bytes}` of one dataset's runs."""
    score = primary_score(*rows)
    config = folders[rows[0]["folder"]].read_config()
    data = config.data
    lines = [
        f"## Dataset `{dataset}`",
        "",
        f"- Data: `{data.source}`"
        + (f" ({data.synthetic_cars} generated cars, {data.synthetic_image_size[1]}x"
           f"{data.synthetic_image_size[0]} px)" if dataset == "synthetic" else "")
        + (" (a prepared TFDS dataset)" if data.tfds else "")
        + f", validation split by {_split_unit(data)} "
        f"({data.val_fraction:.0%}" + (", made when prepared)" if data.tfds else ")"),
        f"- Best run's preset `{config.preset}`: images {data.image_size[1]}x"
        f"{data.image_size[0]}, U-Net with {config.model.filters} base filters, depth "
        f"{config.model.depth}, loss `{config.train.loss}`, "
        f"{format_epochs(config.train.epochs)}",
        f"- Scores: validation {score} at each image's native size"
        + (" (per image, then averaged), and the outline F-score within 2 px (`boundary_f`)"
           if score == "dice" else " (pooled over the split, mean over classes present)")
        + ", from the best epoch's checkpoint",
        "",
        *markdown_table(rows),
    ]
    finished = [r for r in rows if r["status"] == "finished"]
    if finished:
        best = finished[0]
        lines += ["", f"Best: `{best['folder']}` with validation {score} {best[score]:.4f}"
                  + (f"; spread over {len(finished)} finished runs "
                     f"{np.ptp([r[score] for r in finished]):.4f}." if len(finished) > 1
                     else ".")]
    lines.append("")

    figures = {}
    # Each run by its folder below the dataset's (`smoke/lr1e-3_bs4_k3`) where it lies there,
    # else by where it lies: unique in a section.
    histories = {_below(r["folder"], dataset): folders[r["folder"]].read_history()
                 for r in rows}
    figures[f"{dataset}_learning_curves.png"] = (
        "Learning curves", viz.png_bytes(viz.plot_learning_curves(histories, "dice")))
    if len(finished) > 1:
        figures[f"{dataset}_score_vs_learning_rate.png"] = (
            f"Validation {score} against learning rate",
            viz.png_bytes(viz.plot_score_vs_learning_rate(finished, score)))
    if finished and overlays:
        figure = overlay_figure(folders[finished[0]["folder"]])
        if figure is not None:
            figures[f"{dataset}_overlays_best_worst.png"] = (
                "Best and worst validation images of the best run", viz.png_bytes(figure))
    for name, (title, _) in figures.items():
        lines += [f"### {title}", "", f"![{title} ({dataset})]({name})", ""]
    return lines, {name: data for name, (_, data) in figures.items()}, finished


def _below(folder: str, dataset: str) -> str:
    """`folder` below `dataset`'s folder where it lies there, else `folder` itself."""
    path = Path(folder)
    return path.relative_to(dataset).as_posix() if path.is_relative_to(dataset) else folder


def recipe_section(rows: list[dict], folders: dict) -> list[str]:
    """Markdown lines putting each finished recipe run's figure beside the published one, each
    with its data, size and epochs, and what keeps them from comparing, then beside a run of the
    preset it was scaled down to (`smoke`, `cpu`) on the same data where the report holds one;
    `[]` without any recipe run.
    `rows` are `RunFolder.summary_row`s, `folders` each row's `RunFolder` by its `folder`."""
    finished = [(row, folders[row["folder"]].read_config()) for row in rows
                if row["status"] == "finished"]
    table = []
    for row, config in finished:
        item = recipes.recipe_of(config)
        if item is not None:
            beside = item.beside(row, config, run=row["folder"])
            scaled_to = config.preset.removeprefix(f"{item.name}-")
            table.append(f"{beside} {_beside_preset(row, config, scaled_to, finished)} |")
    if not table:
        return []
    header, rule = recipes.BESIDE_HEADER.split("\n")
    return [
        "## Recipes: our figure beside the published one",
        "",
        "A figure compares with the published one only where nothing differs: a run of a "
        "scaled-down preset (`smoke`, `cpu`) or on generated data says how far it is from "
        "the published setting, not how well the recipe does. The last column puts a scaled "
        "run's score beside that of the preset it was scaled to, on the same data and split, "
        "with the settings the recipe changes: why it lands above or below the preset.",
        "",
        f"{header} beside its preset on the same data |",
        f"{rule}---|",
        *table,
        "",
    ]


def _beside_preset(row: dict, config, preset_name: str, finished: list) -> str:
    """A recipe run's score beside that of a finished run of the preset `preset_name` on the
    same data (the data's fields and the seed, which draws the split), and the settings in
    which the recipe differs from the preset."""
    if preset_name not in recipes.SCALED_PRESETS:
        return "- (published size)"
    same = [(other, base) for other, base in finished if base.preset == preset_name
            and base.data.source == config.data.source and base.train.seed == config.train.seed
            and all(getattr(base.data, name) == getattr(config.data, name)
                    for name in ("data_dir", "synthetic_cars", "synthetic_image_size",
                                 "val_fraction"))]
    if not same:
        return f"no `{preset_name}` preset run on the same data in this report"
    other, base = same[0]
    key = primary_score(row, other)
    ours, theirs = row.get(key), other.get(key)
    if not isinstance(ours, float) or not isinstance(theirs, float):
        return f"no {key} in both runs"
    settings = [phrase for phrase in config_differences(base, config)
                if phrase.split(" ")[0] not in ("preset", "train.prediction_images")]
    return (f"{key} {ours:.4f} vs {theirs:.4f} ({ours - theirs:+.4f}, run `{other['folder']}`); "
            f"{preset_name} → recipe: {', '.join(settings) or 'nothing'}")


def write_report(runs=None, report_dir=None, command: str | None = None, overlays: bool = True,
                 run_dirs=None, damaged: list | None = None) -> Path:
    """Writes `README.md`, `sweep.csv`, `report.json` and figures into the report folder.

    Everything is rendered before anything is written, so an error leaves the previous report
    whole; each file is then replaced atomically.

    Args:
        runs: The runs root (default: `unet.paths.runs_dir()`).
        report_dir: The report folder (default: `unet.paths.report_dir()`: `memory/`).
        command: The command that produced the runs, quoted in the report and kept in
            `report.json`; `None` keeps the one recorded there by an earlier report.
        overlays: Draw prediction overlays (needs the best run's `best.keras`).
        run_dirs: The run folders to report; default: those `report.json` lists, else every
            run under `runs`.
        damaged: A list that receives the `DamagedFile` error of each run left out because a
            file of its folder is damaged (the report lists them too).

    Returns:
        The path of `README.md`.

    Two processes writing one report folder take turns (`files.lock`, waiting): each report
    is whole, never a mix of two.

    Raises:
        DamagedFile: `report.json` is damaged, or every run is.
        MissingFile: there is no run to report.
    """
    report_dir = paths.report_dir(report_dir)
    root = paths.runs_dir(runs)
    if not report_dir.is_dir() and not (run_dirs or experiments.find_runs(root)):
        raise MissingFile(f"No runs under {root}: train or sweep first.")
    with files.lock(report_dir, "report folder", wait=True):
        return _write_report(report_dir, root, command, overlays, run_dirs, damaged)


def _write_report(report_dir: Path, root: Path, command, overlays: bool, run_dirs,
                  damaged: list | None) -> Path:
    """`write_report` under the report folder's lock."""
    recorded = report_dir / "report.json"
    saved = files.read_json(recorded, "remove it: the report then lists every run under "
                            f"{root}", {"runs": list}) if recorded.is_file() else {}
    command = command or saved.get("command", "python -m unet report")
    if run_dirs is None:
        listed = [root / folder for folder in saved.get("runs", [])]
        run_dirs = listed if listed and all(RunFolder(d).config.is_file() for d in listed) \
            else experiments.find_runs(root)
    rows, by_folder, left_out = [], {}, []
    for folder in map(RunFolder, run_dirs):
        try:
            row = folder.summary_row(root)
        except DamagedFile as error:  # reported as damaged; the other runs still are
            left_out.append(error)
            continue
        rows.append(row)
        by_folder[row["folder"]] = folder
    if damaged is not None:
        damaged += left_out
    if not rows:
        if left_out:
            raise left_out[0]
        raise MissingFile(f"No runs under {root}: train or sweep first.")

    # 1. Render: one section per dataset, binary first.
    rows = experiments.sort_rows(rows)
    datasets = sorted({r["dataset"] for r in rows}, key=lambda d: (d.endswith("carla"), d))
    # the command that rewrites this report from its runs: its folders named where they are not
    # the defaults
    again = "python -m unet report" + "".join(
        f" {flag} {folder}" for flag, folder, default in (
            ("--runs-dir", root, paths.runs_dir()), ("--report-dir", report_dir,
                                                     paths.report_dir()))
        if Path(folder).resolve() != Path(default).resolve())
    lines = [
        "# Experiment report",
        "",
        f"Made by `{command}`; regenerate with `{again}`. Every number below is read from the "
        "run folders named in the tables (under the runs root, `runs/` by default; checkpoints "
        "and logs are not committed).",
        "",
    ]
    pictures, best = {}, None
    for dataset in datasets:
        section, figures, finished = _dataset_section(
            dataset, [r for r in rows if r["dataset"] == dataset], by_folder, overlays)
        lines += section
        pictures.update(figures)
        best = best or (finished[0] if finished else None)
    lines += recipe_section(rows, by_folder)
    if left_out:
        lines += ["## Damaged runs", "", "Left out of the tables above: a file of their folder "
                  "does not read back.", "", *[f"- {error}" for error in left_out], ""]
    env = (best or {}).get("environment") or environment.describe()
    lines += [
        f"Environment: TensorFlow {env['tensorflow']}, Keras {env['keras']}, Python "
        f"{env['python']}, {env['device']}, commit `{env['commit']}`.",
        "",
        "Also here: `sweep.csv` (one row per run) and `report.json` (the command and runs).",
        "",
    ]
    report = {"command": command, "runs": [
        str(Path(d).relative_to(root)) if Path(d).is_relative_to(root) else str(d)
        for d in run_dirs]}

    # 2. Write: figures first, the README that links them last.
    for name, data in pictures.items():
        files.write_bytes(report_dir / name, data)
    files.write_csv(report_dir / "sweep.csv", rows, SWEEP_COLUMNS)
    files.write_json(recorded, report)
    return files.write_text(report_dir / "README.md", "\n".join(lines))
