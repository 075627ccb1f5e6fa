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
from unet.inference import input_spec_for


def export_saved_model(model_path, out_dir, image_size=None) -> Path:
    """Writes a SavedModel whose `serve` signature takes `images` (uint8, `[N, H, W, 3]`, any
    H and W) and returns `masks` (uint8 `[N, H, W, 1]`: {0, 1} or class ids) and
    `probabilities` (float32 `[N, H, W, C]`), through the same steps as `unet.inference`
    (`pipeline.model_input`, then `postprocess`; resized or padded as the model was
    trained)."""
    model = checkpoints.load_model(model_path, compile=False)
    spec = input_spec_for(model_path, model, image_size)
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
    out_dir = Path(out_dir)
    with files.atomic_path(out_dir) as partial:
        archive.write_out(str(partial), verbose=False)
    return out_dir


def export_tflite(model_path, out_path, image_size=None) -> Path:
    """Writes a TFLite model taking one float32 image in [0, 1] at the training size and
    returning its probabilities (resizing is left to the app, as mobile pipelines do)."""
    model = checkpoints.load_model(model_path, compile=False)
    spec = input_spec_for(model_path, model, image_size)

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
    """`python -m unet export`: `saved_model/` or `model.tflite` beside the model by default."""
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {FORMATS}; received {fmt!r}.")
    model_path = Path(model_path)
    if fmt == "saved_model":
        return export_saved_model(model_path, out or model_path.with_name("saved_model"),
                                  image_size)
    return export_tflite(model_path, out or model_path.with_suffix(".tflite"), image_size)
