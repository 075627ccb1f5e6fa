"""Prediction on new images at their native size: mask PNGs, overlays, a Kaggle submission.

Images stream through `tf.data` (decoded while the previous batch is predicted); logits are
resized back to each image's own size (or cropped, for padded models), then thresholded.
"""

from __future__ import annotations

import dataclasses
import json
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
    """How a model expects its input.

    Attributes:
        image_size: The training size `(height, width)`.
        resize_mode: `"resize"` or `"pad"`, as in training.
        num_classes: 1 for binary.
        prediction_size: The size to predict at when not the training size (a U-Net is fully
            convolutional: a larger size keeps more of a photo's outline).
    """

    image_size: tuple[int, int]
    resize_mode: str = "resize"
    num_classes: int = 1
    prediction_size: tuple[int, int] | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        """The size images are fitted to before the model sees them."""
        return tuple(self.prediction_size or self.image_size)


def settings_for(model_path, model, image_size=None, prediction_size=None) -> Settings:
    """How to feed `model`: from the run's `config.json` beside it, else from the model itself.

    Args:
        model_path: The `.keras` file `model` was loaded from.
        model: The loaded model (its input and output shapes serve when no config is found).
        image_size: The training size, overriding what the config or the model says.
        prediction_size: The size to predict at (default: the training size).

    Returns:
        `Settings`.

    Raises:
        ValueError: no `config.json`, no `image_size`, and a model without a fixed input size.
    """
    saved = Path(model_path).parent / "config.json"
    num_classes = int(model.output_shape[-1])
    resize_mode = "resize"
    if saved.is_file():
        config = RunConfig.load(saved)
        resize_mode = config.data.resize_mode
        image_size = image_size or config.data.image_size
    if image_size is None:
        height, width = model.input_shape[1:3]
        if height is None or width is None:
            raise ValueError(
                f"{model_path}: no config.json beside it and no fixed input size; "
                "give the training size (--image-size H W).")
        image_size = (height, width)
    image_size = tuple(int(s) for s in image_size)
    if prediction_size is not None:
        prediction_size = tuple(int(s) for s in prediction_size)
        if len(prediction_size) != 2 or min(prediction_size) <= 0:
            raise ValueError(f"the prediction size must be two positive numbers; received "
                             f"{prediction_size}.")
    if prediction_size == image_size:
        prediction_size = None
    return Settings(image_size, resize_mode, num_classes, prediction_size)


def auto_tta(model_path) -> tuple[str, str]:
    """Whether flip TTA helps this model: `("flip" or "none", a one-line reason)`.

    Training scores the validation split with and without it (`dice` and `dice_flip_tta` in
    the run's `metrics.json`, beside `best.keras`); flip is used where it scored higher.
    """
    scores = Path(model_path).with_name("metrics.json")
    scored = json.loads(scores.read_text()) if scores.is_file() else {}
    if "dice_flip_tta" not in scored or "dice" not in scored:
        return "none", "Flip TTA off: no flip-TTA score beside the model (--tta flip turns it on)"
    helps = scored["dice_flip_tta"] > scored["dice"]
    return ("flip" if helps else "none",
            f"Flip TTA {'on' if helps else 'off'}: validation Dice {scored['dice']:.4f} without, "
            f"{scored['dice_flip_tta']:.4f} with ({scores})")


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
    pixels = pipeline.scale(pipeline.model_input(image, settings.input_size,
                                                 settings.resize_mode))[None]
    model = evaluation.model_at_size(model, settings.input_size)
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
        batch_size=batch_size, resize_mode=settings.resize_mode, tta=tta,
        prediction_size=settings.prediction_size)
    for path, native in tqdm(predictions, total=len(paths), desc="predicting",
                             disable=not progress):
        yield path, evaluation.labels_from_probabilities(native, settings.num_classes, threshold)


def predict_folder(model_path, inputs, output=None, *, overlay: bool = False, tta="auto",
                   threshold: float = 0.5, submission=None, batch_size: int = 4,
                   image_size=None, prediction_size=None, progress: bool = True) -> dict:
    """`python -m unet predict`: mask PNGs (and overlays) in `output`, and/or a submission.

    Args:
        model_path: A `.keras` file (its run's `config.json` gives the training size).
        inputs: A folder or image files.
        output: Folder for `<name>_mask.png` (0/255, or class ids) and `<name>_overlay.jpg`.
        overlay: Also write overlays.
        tta: `"flip"` to average the horizontal flip's logits in, `"none"`, or `"auto"`
            (`auto_tta`: flip where the run's validation scored higher with it).
        threshold: Probability threshold (binary models).
        submission: Path of a Kaggle `img,rle_mask` file (`.csv.gz`), resumable.
        batch_size: Images per prediction batch.
        image_size: The training size, when no `config.json` lies beside the model.
        prediction_size: Predict at this size instead of the training size.
        progress: Show a progress bar.

    Returns:
        `{"images": predicted now, "skipped": already in the submission, "submission": path}`.
    """
    if output is None and submission is None:
        raise ValueError("Nothing to write: give an output folder, a submission path, or both.")
    model = checkpoints.load_model(model_path, compile=False)
    settings = settings_for(model_path, model, image_size, prediction_size)
    tta = auto_tta(model_path)[0] if tta == "auto" else evaluation.check_tta(tta)
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
