"""Pictures: mask overlays, error maps, class maps, learning curves and grid plots (PNG)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from unet import files, postprocess
from unet.config import VOID_COLOR, VOID_LABEL
from unet.data import carla

FALSE_POSITIVE = (255, 60, 40)  # predicted car where there is none
FALSE_NEGATIVE = (40, 120, 255)  # car the prediction missed
PREDICTED_CAR = (0, 200, 90)  # predicted car (and, fainter, car found in error maps)


def as_uint8(image) -> np.ndarray:
    """RGB uint8 `(H, W, 3)` from uint8, or from floats in [0, 1] (scaled by 255) or 0-255,
    rounded; channels past the third (alpha) dropped."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        scale = 255.0 if image.max() <= 1.0 else 1.0
        image = np.clip(np.round(image * scale), 0, 255).astype(np.uint8)
    return image[..., :3]


def _plane(labels) -> np.ndarray:
    """`(H, W)` from `(H, W)` or `(H, W, 1)`."""
    return postprocess.label_plane(np.asarray(labels), 2)


def overlay(image, mask, color=PREDICTED_CAR, alpha: float = 0.45) -> np.ndarray:
    """The image with `mask` (nonzero pixels) tinted in `color`; uint8 RGB."""
    out = as_uint8(image).astype(np.float32)
    selected = _plane(mask) > 0
    out[selected] = (1 - alpha) * out[selected] + alpha * np.asarray(color, np.float32)
    return out.astype(np.uint8)


def prediction_picture(image, labels, binary: bool, colors=None) -> np.ndarray:
    """How predicted labels `(H, W)` are drawn, as uint8 RGB: a car mask (`binary`) over its
    image (`overlay`), class ids in `colors` (default CARLA's palette, `class_map`)."""
    return overlay(image, labels) if binary else class_map(labels, colors)


def error_map(image, truth, prediction, alpha: float = 0.6) -> np.ndarray:
    """False positives and false negatives painted in two colours over the image."""
    truth = _plane(truth) > 0
    prediction = _plane(prediction) > 0
    out = overlay(image, truth & prediction, PREDICTED_CAR, 0.25)
    out = overlay(out, prediction & ~truth, FALSE_POSITIVE, alpha)
    return overlay(out, truth & ~prediction, FALSE_NEGATIVE, alpha)


def class_map(labels, colors=None) -> np.ndarray:
    """Class ids -> RGB with `colors` (one RGB per id; default CARLA's palette); void pixels
    (`config.VOID_LABEL`) in `config.VOID_COLOR`."""
    colors = carla.CLASS_COLORS if colors is None else colors
    palette = np.zeros((256, 3), np.uint8)
    palette[: min(len(colors), 255)] = colors[:255]
    palette[VOID_LABEL] = VOID_COLOR
    return palette[_plane(labels).astype(np.uint8)]


def class_overlay(image, labels, colors, names, alpha: float = 0.5) -> np.ndarray:
    """The image with each class id of `labels` tinted in its colour (class 0, the background,
    left clear; void in `VOID_COLOR`), over a legend strip naming the classes present."""
    labels = _plane(labels).astype(np.uint8)
    out = as_uint8(image).astype(np.float32)
    tinted = labels > 0
    out[tinted] = (1 - alpha) * out[tinted] + alpha * class_map(labels, colors)[tinted]
    present = [int(i) for i in np.unique(labels)]
    entries = [("void" if i == VOID_LABEL else names[i] if i < len(names) else str(i),
                VOID_COLOR if i == VOID_LABEL else tuple(class_map(np.array([[i]]), colors)[0, 0]))
               for i in present]
    return np.concatenate([out.astype(np.uint8), legend_strip(out.shape[1], entries)])


def legend_strip(width: int, entries, row_height: int = 14) -> np.ndarray:
    """uint8 RGB rows `width` wide naming `entries` ((label, RGB) pairs) beside colour squares,
    as many per row as fit."""
    from PIL import Image, ImageDraw

    cell = max(80, max((len(label) for label, _ in entries), default=4) * 6 + 18)
    per_row = max(1, width // cell)
    rows = -(-len(entries) // per_row) or 1
    strip = Image.new("RGB", (width, rows * row_height + 2), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for index, (label, rgb) in enumerate(entries):
        x, y = (index % per_row) * cell + 2, (index // per_row) * row_height + 2
        draw.rectangle([x, y, x + 10, y + 10], fill=tuple(int(c) for c in rgb), outline=(0, 0, 0))
        draw.text((x + 14, y), label, fill=(0, 0, 0))
    return np.asarray(strip)


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes (and closed): render first, write later."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def save_figure(figure, path, show: bool = False) -> Path:
    """Saves a figure as PNG atomically and closes it; `show` first displays it inline (in a
    notebook)."""
    if show:
        from IPython.display import display

        display(figure)
    return files.write_bytes(path, png_bytes(figure))


ERROR_LEGEND = (("predicted car (in the errors: car found)", PREDICTED_CAR),
                ("predicted car, is background (false positive)", FALSE_POSITIVE),
                ("missed car (false negative)", FALSE_NEGATIVE))


def class_legend(labels, names=None, colors=None) -> list[tuple[str, tuple]]:
    """Legend entries for the classes present in `labels` (and void), named by `names` and
    coloured as `class_map` colours them (default: CARLA's)."""
    present = np.unique(np.concatenate([np.unique(_plane(np.asarray(x))) for x in labels]))
    entries = []
    for i in present.astype(int):
        if i == VOID_LABEL:
            entries.append(("void", VOID_COLOR))
        elif names is None and colors is None:
            entries.append((carla.class_name(i), tuple(
                int(c) for c in carla.CLASS_COLORS[i % len(carla.CLASS_COLORS)])))
        else:
            name = names[i] if names is not None and i < len(names) else str(i)
            entries.append((name, tuple(int(c) for c in class_map(np.array([[i]]), colors)[0, 0])))
    return entries


def image_grid(panels, columns: int, titles=None, panel_size: float = 2.6, legend=None):
    """A figure of images (`panels`), `columns` wide, with optional titles and a legend of
    colour patches under it (`legend`: (label, RGB 0-255) pairs such as `ERROR_LEGEND` or
    `class_legend(...)`)."""
    rows = max(1, -(-len(panels) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(panel_size * columns * 1.4,
                                                        panel_size * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(panels):
            axis.imshow(panels[index])
            if titles is not None:
                axis.set_title(titles[index], fontsize=8)
    figure.tight_layout()
    if legend:
        figure.subplots_adjust(bottom=0.06 + 0.25 / rows)
        handles = [Patch(color=np.asarray(rgb) / 255.0, label=label) for label, rgb in legend]
        figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4),
                      fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.02))
    return figure


def plot_learning_curves(histories: dict, metric: str = "dice"):
    """Two panels sharing the epoch axis: loss (training solid, validation dashed) and the
    validation `metric`, one colour per run, each run's best epoch marked with a star."""
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = plt.get_cmap("tab10")
    for index, (name, history) in enumerate(histories.items()):
        colour = colours(index % 10)
        epochs = [row["epoch"] for row in history]
        loss_axis.plot(epochs, [row.get("loss", np.nan) for row in history], "-",
                       color=colour, label=f"{name} (training)")
        loss_axis.plot(epochs, [row.get("val_loss", np.nan) for row in history], "--",
                       color=colour, label=f"{name} (validation)")
        scores = [row.get(f"val_{metric}", np.nan) for row in history]
        score_axis.plot(epochs, scores, ".-", color=colour, label=name)
        if np.isfinite(scores).any():
            best = int(np.nanargmax(scores))
            score_axis.plot(epochs[best], scores[best], "*", color=colour, markersize=13,
                            markeredgecolor="black")
    loss_axis.set(xlabel="epoch", ylabel="loss", title="Loss (solid: training, dashed: "
                  "validation)")
    score_axis.set(xlabel="epoch", ylabel=f"validation {metric} (training size)",
                   title=f"Validation {metric} (star: best epoch, kept as best.keras)")
    for axis in (loss_axis, score_axis):
        axis.grid(alpha=0.3)
    if len(histories) <= 8:
        score_axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


def plot_score_vs_learning_rate(rows, score: str = "dice"):
    """Validation `score` against learning rate, one line per (batch size, kernel size) of
    each grid (`row["grid"]`): runs of other presets or settings are never joined by a line."""
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    groups = sorted({(r.get("grid", ""), r["batch_size"], r["kernel_size"]) for r in rows})
    grids = {group[0] for group in groups}
    for grid, batch_size, kernel_size in groups:
        points = sorted((r["learning_rate"], r.get(score, np.nan)) for r in rows
                        if (r.get("grid", ""), r["batch_size"], r["kernel_size"])
                        == (grid, batch_size, kernel_size))
        parent = grid.rsplit("/", 1)[0]
        shared = sum(g.rsplit("/", 1)[0] == parent for g in grids) > 1
        where = f"{grid if shared else parent}, " if len(grids) > 1 else ""
        axis.plot(*zip(*points), "o-", label=f"{where}batch {batch_size}, kernel {kernel_size}")
    axis.set(xscale="log", xlabel="learning rate", ylabel=f"validation {score} (native size)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_histogram(values, xlabel: str, bins: int = 30):
    """A histogram with the mean marked (mask coverage, per-image Dice, ...)."""
    figure, axis = plt.subplots(figsize=(5.5, 3.2))
    values = np.asarray(values, float)
    axis.hist(values, bins=bins, color="#3a7bd5")
    axis.axvline(values.mean(), color="k", linestyle="--", label=f"mean {values.mean():.4f}")
    axis.set(xlabel=xlabel, ylabel="images")
    axis.legend()
    figure.tight_layout()
    return figure


def plot_class_histogram(pixel_fractions: dict):
    """CARLA pixel share per class, bars in the class colours, log scale for the long tail."""
    ids = sorted(pixel_fractions)
    figure, axis = plt.subplots(figsize=(8, 3.4))
    colors = [np.asarray(carla.CLASS_COLORS[i]) / 255 for i in ids]
    axis.bar([carla.class_name(i) for i in ids], [pixel_fractions[i] for i in ids],
             color=colors, edgecolor="k", linewidth=0.4)
    axis.set(yscale="log", ylabel="fraction of pixels")
    axis.tick_params(axis="x", rotation=60, labelsize=8)
    figure.tight_layout()
    return figure


def plot_confusion_matrix(matrix, labels):
    """Row-normalised confusion matrix (rows: truth, columns: prediction)."""
    matrix = np.asarray(matrix, float)
    normalised = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(0.45 * len(labels) + 2, 0.45 * len(labels) + 1.5))
    shown = axis.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=70, fontsize=7)
    axis.set_yticks(range(len(labels)), labels, fontsize=7)
    axis.set(xlabel="predicted", ylabel="true")
    figure.colorbar(shown, fraction=0.046)
    figure.tight_layout()
    return figure


def error_window(truth, prediction, size: int = 96):
    """(top, left, bottom, right) of the `size` square holding the most wrong pixels."""
    wrong = (_plane(truth) > 0) != (_plane(prediction) > 0)
    height, width = wrong.shape
    size = min(size, height, width)
    if not wrong.any():
        top, left = (height - size) // 2, (width - size) // 2
    else:
        # Summed-area table: the count of wrong pixels in every window at once.
        table = np.pad(wrong.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        counts = (table[size:, size:] - table[:-size, size:] - table[size:, :-size]
                  + table[:-size, :-size])
        top, left = np.unravel_index(np.argmax(counts), counts.shape)
    return int(top), int(left), int(top) + size, int(left) + size
