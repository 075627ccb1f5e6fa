import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from unet import app, checkpoints, export, inference
from unet.data import image_files

pytestmark = pytest.mark.slow


def test_saved_model_serves_uint8_images_of_any_size_like_keras(trained, tmp_path):
    model_path, config = trained
    out = export.export(model_path, "saved_model", tmp_path / "saved")
    served = tf.saved_model.load(str(out))
    image = np.random.default_rng(1).integers(0, 256, (1, 50, 70, 3), dtype=np.uint8)
    result = served.serve(tf.constant(image))
    assert result["masks"].shape == (1, 50, 70, 1) and result["masks"].dtype == tf.uint8
    model = checkpoints.load_model(model_path, compile=False)
    settings = inference.input_spec_for(model_path, model)
    # The same path as inference: model input, logits back to native size, then probabilities.
    pixels = tf.cast(tf.round(tf.image.resize(image.astype("float32"), config.data.image_size)),
                     tf.float32) / 255.0
    expected = tf.sigmoid(tf.image.resize(model(pixels), (50, 70)))
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(result["masks"].numpy()[0, ..., 0],
                                  inference.predict_array(model, image[0], settings))


def test_a_padded_model_is_padded_by_the_saved_model_and_the_app(trained, tmp_path):
    """Defect: the web app and the SavedModel resized a model trained with `pad`."""
    import json
    import shutil

    model_path, config = trained
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "best.keras")
    values = config.to_dict()
    values["data"]["resize_mode"] = "pad"
    (run / "config.json").write_text(json.dumps(values))
    model = checkpoints.load_model(run / "best.keras", compile=False)
    padded = inference.input_spec_for(run / "best.keras", model)
    assert padded.resize_mode == "pad"
    height, width = config.data.image_size
    image = np.random.default_rng(4).integers(0, 256, (height - 4, width - 6, 3), np.uint8)
    reflected = np.pad(image, ((2, 2), (3, 3), (0, 0)), mode="reflect")
    logits = model(reflected[None].astype("float32") / 255.0)[0, 2:-2, 3:-3, 0].numpy()
    expected = (logits > 0).astype(np.uint8)
    np.testing.assert_array_equal(inference.predict_array(model, image, padded), expected)
    served = tf.saved_model.load(str(export.export(run / "best.keras", "saved_model")))
    masks = served.serve(tf.constant(image[None]))["masks"].numpy()[0, ..., 0]
    np.testing.assert_array_equal(masks, expected)


def test_tflite_matches_keras_on_the_same_input(trained, tmp_path):
    model_path, config = trained
    path = export.export(model_path, "tflite", tmp_path / "model.tflite")
    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    image = np.random.default_rng(2).random((1, *config.data.image_size, 3)).astype("float32")
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    model = checkpoints.load_model(model_path, compile=False)
    np.testing.assert_allclose(got, tf.sigmoid(model(image)).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="format must be one of"):
        export.export(model_path, "onnx")


def _jpeg(width=96, height=64):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<html>hello</html>", "not a readable JPEG or PNG"),
        (_jpeg()[:200], "not a readable JPEG or PNG"),
        ("gif", "photo is GIF; upload a JPEG or PNG photo"),
        (None, "has 8000x8000 pixels; the limit is 50,000,000 pixels"),
    ],
)
def test_bad_uploads_get_a_clear_message(data, message):
    if data == "gif":
        buffer = io.BytesIO()
        Image.new("P", (8, 8)).save(buffer, format="GIF")
        data = buffer.getvalue()
    if data is None:  # a PNG declaring 8000x8000 pixels in a few kilobytes
        buffer = io.BytesIO()
        Image.new("1", (8000, 8000)).save(buffer, format="PNG")
        data = buffer.getvalue()
        assert len(data) < 50_000
    with pytest.raises(app.UploadError, match=message):
        app.read_upload(data, "photo")


def test_the_app_refuses_the_pixels_the_library_refuses():
    assert "MAX_PIXELS" not in vars(app)  # one policy: image_files.MAX_PIXELS
    assert image_files.MAX_PIXELS < 8000 * 8000


def test_a_good_upload_decodes_to_rgb():
    assert app.read_upload(_jpeg(), "photo").shape == (64, 96, 3)


def test_the_app_shows_mask_and_overlay_and_offers_downloads(trained, monkeypatch):
    from streamlit.testing.v1 import AppTest

    model_path, _ = trained
    monkeypatch.setenv("UNET_APP_MODEL", str(model_path))
    at = AppTest.from_file(app.__file__, default_timeout=120).run()
    assert not at.exception and at.info[0].value == "No photo yet."
    at.get("file_uploader")[0].set_value(("car.jpg", _jpeg(120, 80), "image/jpeg")).run()
    assert not at.exception, at.exception
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    assert captions == ["mask 120x80", "overlay"]
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Download the mask (PNG)",
                      "Download the run-length encoding (Kaggle format)"]
    at.get("file_uploader")[0].set_value(("bad.png", b"not an image", "image/png")).run()
    assert "bad.png is not a readable JPEG or PNG image" in at.error[0].value


def test_predict_array_matches_the_mask_size(trained):
    model_path, _ = trained
    model = checkpoints.load_model(model_path, compile=False)
    settings = inference.input_spec_for(model_path, model)
    mask = inference.predict_array(model, np.zeros((37, 53, 3), np.uint8), settings)
    assert mask.shape == (37, 53) and mask.dtype == np.uint8


def test_the_app_shows_a_two_class_carvana_model_as_a_car_mask(softmax_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("UNET_APP_MODEL", str(softmax_run / "best.keras"))
    at = AppTest.from_file(app.__file__, default_timeout=120).run()
    at.get("file_uploader")[0].set_value(("car.jpg", _jpeg(120, 80), "image/jpeg")).run()
    assert not at.exception, at.exception
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Download the mask (PNG)",
                      "Download the run-length encoding (Kaggle format)"]
    assert at.get("metric")[0].label == "Share of the photo that is car"
    png = app.mask_png(np.array([[0, 1]], np.uint8), binary=True)
    assert np.asarray(Image.open(io.BytesIO(png))).tolist() == [[0, 255]]
