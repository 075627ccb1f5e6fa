"""Exporting a trained model: a SavedModel for TF Serving (uint8 images of any size in, masks at
that size out) and a TFLite model (fixed training size, for phones and edge devices)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from unet import checkpoints
from unet.inference import settings_for

FORMATS = ("saved_model", "tflite")


def _probabilities(model, images, num_classes: int):
    logits = model(images, training=False)
    return tf.sigmoid(logits) if num_classes == 1 else tf.nn.softmax(logits, axis=-1)


def _labels(probabilities, num_classes: int):
    if num_classes == 1:
        return tf.cast(probabilities > 0.5, tf.uint8)
    return tf.cast(tf.argmax(probabilities, axis=-1), tf.uint8)[..., None]


def export_saved_model(model_path, out_dir, image_size=None) -> Path:
    """Writes a SavedModel whose `serve` signature takes `images` (uint8, `[N, H, W, 3]`, any
    H and W) and returns `masks` (uint8 `[N, H, W, 1]`: {0, 1} or class ids) and
    `probabilities` (float32 `[N, H, W, C]`), resized like `unet.inference` does."""
    model = checkpoints.load_model(model_path, compile=False)
    settings = settings_for(model_path, model, image_size)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve(images):
        native = tf.shape(images)[1:3]
        pixels = tf.image.resize(tf.cast(images, tf.float32) / 255.0, settings.image_size,
                                 antialias=True)
        probabilities = tf.image.resize(
            _probabilities(model, pixels, settings.num_classes), native, method="bilinear")
        return {"masks": _labels(probabilities, settings.num_classes),
                "probabilities": probabilities}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve)
    out_dir = Path(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    archive.write_out(str(out_dir))
    return out_dir


def export_tflite(model_path, out_path, image_size=None) -> Path:
    """Writes a TFLite model taking one float32 image in [0, 1] at the training size and
    returning its probabilities (resizing is left to the app, as mobile pipelines do)."""
    model = checkpoints.load_model(model_path, compile=False)
    settings = settings_for(model_path, model, image_size)
    height, width = settings.image_size

    @tf.function(input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32,
                                                 name="image")])
    def predict(image):
        return {"probabilities": _probabilities(model, image, settings.num_classes)}

    # Through a SavedModel: converting it freezes the weights into constants (converting the
    # concrete function directly left them as variables the interpreter reads uninitialised).
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", predict)
    with tempfile.TemporaryDirectory() as staging:
        archive.write_out(staging)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging)
        flat = converter.convert()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    partial.write_bytes(flat)
    partial.replace(out_path)
    return out_path


def export(model_path, fmt: str, out=None, image_size=None) -> Path:
    """`python -m unet export`: `saved_model/` or `model.tflite` beside the model by default."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}; received {fmt!r}.")
    model_path = Path(model_path)
    if fmt == "saved_model":
        return export_saved_model(model_path, out or model_path.with_name("saved_model"),
                                  image_size)
    return export_tflite(model_path, out or model_path.with_suffix(".tflite"), image_size)
