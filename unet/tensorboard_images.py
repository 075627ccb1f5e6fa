"""Predictions in TensorBoard: validation images with their masks each epoch, native scores."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from unet import files, postprocess, viz
from unet.run_folder import RunFolder

IMAGES_FOLDER = "predictions"  # under the run's logs/: TensorBoard's "predictions" run
SCORES_FOLDER = "native"  # under the run's logs/: the best epoch's native-size scores


def prediction_panels(images, truths, labels, binary: bool) -> np.ndarray:
    """One picture per image, `(N, H, 3 * W, 3)` uint8: the image, the prediction over it, and
    the errors over it (`binary`: red false car, blue missed car; classes: the prediction in
    CARLA's palette, wrong pixels in red).

    Args:
        images: `(N, H, W, 3)` floats in [0, 1] or uint8.
        truths: `(N, H, W)` or `(N, H, W, 1)` true labels.
        labels: `(N, H, W)` predicted labels.
    """
    panels = []
    for image, truth, predicted in zip(images, truths, labels):
        image = viz.as_uint8(image)
        truth = np.asarray(truth).reshape(predicted.shape)
        shown = viz.prediction_picture(image, predicted, binary)
        if binary:
            errors = viz.error_map(image, truth, predicted)
        else:
            errors = viz.overlay(image, truth != predicted, viz.FALSE_POSITIVE, 0.6)
        panels.append(np.concatenate([image, shown, errors], axis=1))
    return np.stack(panels)


class PredictionImages(keras.callbacks.Callback):
    """Writes a fixed set of validation images with their predicted masks to TensorBoard's
    Images tab after every epoch (image | prediction | errors), and optionally as PNGs.

    Args:
        images: `(N, H, W, 3)` model inputs in [0, 1].
        truths: `(N, H, W, 1)` their true labels.
        log_dir: The run's TensorBoard folder; images go to `<log_dir>/predictions`.
        num_classes: The model's output channels.
        binary: The dataset is binary (a car mask), also when the model has 2 classes.
        png_dir: Also write `epoch<NNN>.png` here (`None`: TensorBoard only).
    """

    def __init__(self, images, truths, log_dir, num_classes: int, binary: bool = True,
                 png_dir=None):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        self.truths = np.asarray(truths)
        self.log_dir = Path(log_dir) / IMAGES_FOLDER
        self.num_classes = num_classes
        self.binary = binary
        self.png_dir = Path(png_dir) if png_dir is not None else None
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_epoch_end(self, epoch, logs=None):
        logits = self.model(self.images, training=False)
        probabilities = postprocess.probabilities_from_logits(logits, self.num_classes)
        labels = postprocess.labels_from_probabilities(np.asarray(probabilities),
                                                        self.num_classes)
        panels = prediction_panels(self.images, self.truths, labels, self.binary)
        with self.writer.as_default():
            tf.summary.image("predictions (image | prediction | errors)", panels, step=epoch,
                             max_outputs=len(panels))
        self.writer.flush()
        if self.png_dir is not None:
            grid = np.concatenate(list(panels), axis=0)
            files.write_bytes(self.png_dir / f"epoch{epoch + 1:03d}.png",
                              tf.io.encode_png(grid).numpy())

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


def prediction_image_callbacks(config, run_dir, val, png: bool = False) -> list:
    """`[PredictionImages]` for a run whose `train.prediction_images` is above 0, else `[]`.

    Args:
        config: The run's `RunConfig`.
        run_dir: The run folder (TensorBoard logs in `logs/`, PNGs in `predictions/`).
        val: The validation `pipeline.Source`; its first `train.prediction_images` are shown.
        png: Also write one PNG per epoch to `<run_dir>/predictions/`.
    """
    count = config.train.prediction_images
    if not count or not len(val):
        return []
    chosen = val.head(count)  # as the model sees them
    images, truths = next(iter(chosen.make_dataset(
        image_size=config.data.image_size, batch_size=len(chosen),
        num_classes=config.model.num_classes, resize_mode=config.data.resize_mode)))
    folder = RunFolder(run_dir)
    return [PredictionImages(images.numpy(), truths.numpy(), folder.logs,
                             config.model.num_classes, binary=config.data.binary,
                             png_dir=folder.predictions if png else None)]


def log_native_scores(log_dir, metrics: dict, step: int | None = None) -> None:
    """Writes a run's native-size scores (`metrics.json`) as TensorBoard scalars, so that
    TensorBoard carries the figures the report shows, at the best epoch.

    Args:
        log_dir: The run's TensorBoard folder; scalars go to `<log_dir>/native`, tagged
            `native_size/<name>` (`dice`, `iou`, `boundary_f`, `pixel_accuracy`, ...).
        metrics: Scores by name; numbers only are written. `best_epoch` (1-based) sets the
            step when `step` is not given.
        step: The epoch (0-based, as Keras' TensorBoard callback counts) to write them at.
    """
    if step is None:
        step = max(int(metrics.get("best_epoch", 1)) - 1, 0)
    names = ("dice", "iou", "boundary_f", "pixel_accuracy", "mean_dice", "mean_iou",
             "dice_flip_tta", "boundary_f_flip_tta")
    writer = tf.summary.create_file_writer(str(Path(log_dir) / SCORES_FOLDER))
    with writer.as_default():
        for name in names:
            value = metrics.get(name)
            if isinstance(value, (int, float)) and math.isfinite(value):
                tf.summary.scalar(f"native_size/{name}", value, step=step)
    writer.close()
