"""Prediction on new images at their native size: mask PNGs, overlays, a Kaggle submission.

Images stream through `tf.data` (decoded while the previous batch is predicted); probabilities
are resized back to each image's own size (or cropped, for padded models) and thresholded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from unet import checkpoints, evaluation, viz
from unet.config import RunConfig
from unet.data import carvana, pipeline
from unet.data.pairs import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a model expects its input: training size, resize or pad, class count."""

    image_size: tuple[int, int]
    resize_mode: str = "resize"
    num_classes: int = 1


def settings_for(model_path, model, image_size=None) -> Settings:
    """From the run's `config.json` beside the model, else `image_size` or the model's input."""
    saved = Path(model_path).parent / "config.json"
    num_classes = int(model.output_shape[-1])
    if saved.is_file() and image_size is None:
        config = RunConfig.load(saved)
        return Settings(config.data.image_size, config.data.resize_mode, num_classes)
    if image_size is None:
        height, width = model.input_shape[1:3]
        if height is None or width is None:
            raise ValueError(
                f"{model_path}: no config.json beside it and no fixed input size; "
                "give the training size (--image-size H W).")
        image_size = (height, width)
    return Settings(tuple(image_size), "resize", num_classes)


def list_inputs(inputs) -> list[Path]:
    """Image files from folders and file names, sorted and unique."""
    paths = []
    for item in [inputs] if isinstance(inputs, (str, Path)) else inputs:
        item = Path(item)
        if item.is_dir():
            paths += [p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder.")
    if not paths:
        raise DataError(f"No .jpg or .png images in {inputs}.")
    return sorted(set(paths))


def predict_array(model, image, settings: Settings, *, tta=None, threshold: float = 0.5):
    """The mask of one RGB uint8 image `(H, W, 3)` at its own size (for the web demo)."""
    height, width = image.shape[:2]
    pixels = pipeline.scale(pipeline.model_input(image, settings.image_size,
                                                 settings.resize_mode))[None]
    logits = evaluation.predict_logits(model, pixels, tta)[0]
    native = evaluation.to_native(logits, (height, width), settings.resize_mode)
    probabilities = evaluation.probabilities_from_logits(native, settings.num_classes).numpy()
    return evaluation.labels_from_probabilities(probabilities, settings.num_classes, threshold)


def predict_masks(model, paths, settings: Settings, *, batch_size: int = 4, tta=None,
                  threshold: float = 0.5, progress: bool = True):
    """Yields `(path, mask)` for each image: uint8 {0, 1} or class ids, at the native size."""
    paths = list(paths)
    predictions = evaluation.predict_native(
        model, paths, image_size=settings.image_size, num_classes=settings.num_classes,
        batch_size=batch_size, resize_mode=settings.resize_mode, tta=tta)
    for path, native in tqdm(predictions, total=len(paths), desc="predicting",
                             disable=not progress):
        yield path, evaluation.labels_from_probabilities(native, settings.num_classes, threshold)


def predict_folder(model_path, inputs, output=None, *, overlay: bool = False, tta=None,
                   threshold: float = 0.5, submission=None, batch_size: int = 4,
                   image_size=None, progress: bool = True) -> dict:
    """`python -m unet predict`: mask PNGs (and overlays) in `output`, and/or a submission.

    Args:
        model_path: A `.keras` file (its run's `config.json` gives the training size).
        inputs: A folder or image files.
        output: Folder for `<name>_mask.png` (0/255, or class ids) and `<name>_overlay.jpg`.
        overlay: Also write overlays.
        tta: `"flip"` to average the horizontal flip's probabilities in.
        threshold: Probability threshold (binary models).
        submission: Path of a Kaggle `img,rle_mask` file (`.csv.gz`), resumable.
        batch_size: Images per prediction batch.
        image_size: The training size, when no `config.json` lies beside the model.
        progress: Show a progress bar.

    Returns:
        `{"images": predicted now, "skipped": already in the submission, "submission": path}`.
    """
    if output is None and submission is None:
        raise ValueError("Nothing to write: give an output folder, a submission path, or both.")
    model = checkpoints.load_model(model_path, compile=False)
    settings = settings_for(model_path, model, image_size)
    if submission is not None and settings.num_classes != 1:
        raise ValueError("A Carvana submission needs a binary model (one output channel).")
    paths = list_inputs(inputs)
    writer = None
    if submission is not None:
        from unet.submission import SubmissionWriter

        writer = SubmissionWriter(submission)
    todo = [p for p in paths if writer is None or p.name not in writer.done]
    if output is not None:
        output = Path(output)
        output.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        for path, mask in predict_masks(model, todo, settings, batch_size=batch_size, tta=tta,
                                        threshold=threshold, progress=progress):
            if output is not None:
                pixels = mask * 255 if settings.num_classes == 1 else mask
                Image.fromarray(pixels.astype(np.uint8)).save(output / f"{path.stem}_mask.png")
                if overlay:
                    image = np.asarray(Image.open(path).convert("RGB"))
                    picture = (viz.overlay(image, mask) if settings.num_classes == 1
                               else viz.class_map(mask))
                    Image.fromarray(picture).save(output / f"{path.stem}_overlay.jpg", quality=90)
            if writer is not None:
                writer.write(path.name, carvana.rle_encode(mask))
                if (count + 1) % batch_size == 0:
                    writer.flush()  # once a batch: a kill loses at most the batch in flight
            count += 1
        written = writer.finish(expected=[p.name for p in paths]) if writer else None
    finally:
        if writer is not None:
            writer.close()
    return {"images": count, "skipped": len(paths) - len(todo),
            "submission": str(written) if written else None}
