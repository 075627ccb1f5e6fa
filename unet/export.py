"""Exporting a trained model: a SavedModel for TF Serving (uint8 images of any size in, masks at
that size out) and a TFLite model (fixed training size, for phones and edge devices)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from unet import checkpoints, files, postprocess
from unet.config import EXPORT_FORMATS as FORMATS
from unet.data import pipeline
from unet.errors import UsageError
from unet.inference import input_spec_for, model_at_size

# What a SavedModel export writes in its folder: a folder holding only these (and a
# `saved_model.pb`) is a previous export, which an export may replace.
SAVED_MODEL_ENTRIES = frozenset({"saved_model.pb", "fingerprint.pb", "variables", "assets"})


def export_saved_model(model_path, out_dir, image_size=None) -> Path:
    """Writes a SavedModel whose `serve` signature takes `images` (uint8, `[N, H, W, 3]`, any
    H and W) and returns `masks` (uint8 `[N, H, W, 1]`: {0, 1} or class ids) and
    `probabilities` (float32 `[N, H, W, C]`), through the same steps as `unet.inference`
    (`pipeline.model_input`, then `postprocess`; resized or padded as the model was
    trained).

    Raises:
        UsageError: a non-empty `out_dir` that is not a previous export (replacing it would
            delete what it holds).
        StorageError: an `out_dir` that is a file, a symbolic link or a device.
    """
    out_dir = Path(out_dir)
    files.check_replaceable(out_dir, "folder")
    _check_replaceable_export(out_dir)
    model = checkpoints.load_model(model_path, compile=False)
    spec = input_spec_for(model_path, model, image_size)
    model = model_at_size(model, spec.image_size)
    classes = spec.num_classes

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve(images):
        pixels = pipeline.model_input(images, spec.image_size, spec.resize_mode)
        logits = postprocess.to_native_size(model(pixels, training=False),
                                            tf.shape(images)[1:3], spec.resize_mode)
        probabilities = postprocess.probabilities_from_logits(logits, classes)
        return {"masks": postprocess.labels_from_probabilities(probabilities, classes)[..., None],
                "probabilities": probabilities}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve)
    with files.atomic_path(out_dir, "folder") as partial:
        archive.write_out(str(partial), verbose=False)
    return out_dir


def export_tflite(model_path, out_path, image_size=None) -> Path:
    """Writes a TFLite model taking one float32 image in [0, 1] at the training size and
    returning its probabilities (resizing is left to the app, as mobile pipelines do).

    Raises:
        StorageError: an `out_path` that is a folder, a symbolic link or a device.
    """
    files.check_replaceable(out_path, "file")
    model = checkpoints.load_model(model_path, compile=False)
    spec = input_spec_for(model_path, model, image_size)
    model = model_at_size(model, spec.image_size)

    @tf.function(input_signature=[tf.TensorSpec([1, *spec.image_size, 3], tf.float32,
                                                 name="image")])
    def predict(image):
        logits = model(image, training=False)
        return {"probabilities": postprocess.probabilities_from_logits(logits, spec.num_classes)}

    # Through a SavedModel: converting it freezes the weights into constants (converting the
    # concrete function directly left them as variables the interpreter reads uninitialised).
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", predict)
    with tempfile.TemporaryDirectory() as staging:
        archive.write_out(staging, verbose=False)
        flat = tf.lite.TFLiteConverter.from_saved_model(staging).convert()
    return files.write_bytes(out_path, flat)


def export(model_path, fmt: str, out=None, image_size=None) -> Path:
    """`python -m unet export`: `saved_model/` or `model.tflite` beside the model by default.

    Raises:
        UsageError: an unknown format, `-` as `out`, or a non-empty `out` folder that is not a
            previous SavedModel export (replacing it would delete what it holds).
        StorageError: an `out` a rename must not replace (`files.check_replaceable`): a
            symbolic link, a device, or a folder for a TFLite file (a file for a SavedModel).
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {FORMATS}; received {fmt!r}.")
    model_path = Path(model_path)
    if out is not None and str(out) == "-":
        raise UsageError("--out -: an export is written to a file or folder, not to standard "
                         "output; give a path, or leave --out out to write beside the model.")
    if fmt == "saved_model":
        return export_saved_model(model_path, out or model_path.with_name("saved_model"),
                                  image_size)
    return export_tflite(model_path, out or model_path.with_suffix(".tflite"), image_size)


def _check_replaceable_export(out: Path) -> None:
    """Refuses a non-empty `out` folder other than a previous export: the atomic replacement of
    the folder would delete the files an export did not write."""
    if not out.is_dir():
        return
    held = sorted(entry.name for entry in out.iterdir())
    if not held or ("saved_model.pb" in held and SAVED_MODEL_ENTRIES.issuperset(held)):
        return
    others = [name for name in held if name not in SAVED_MODEL_ENTRIES]
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    raise UsageError(f"--out {out} is a folder holding other files ({shown or 'no saved_model.pb'}"
                     "), which replacing it would delete: give a new or empty folder, or "
                     "move those files out.")
