"""The web demo: upload a car photo, see its predicted mask and overlay, download both.

    python -m unet app --model memory/runs/<run>/best.keras
    streamlit run unet/app.py -- --model memory/runs/<run>/best.keras

Only uploaded bytes are read: no path a visitor types is ever opened. The model path comes
from whoever starts the server (`--model`, or `$UNET_APP_MODEL`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings

import numpy as np
from PIL import Image

from unet.errors import UploadError

MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 4096 * 4096  # well above a 1918x1280 Carvana photo


def read_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """Decodes uploaded bytes as an RGB image, refusing what should not be decoded.

    Raises:
        UploadError: too large a file, not a JPEG or PNG, too many pixels (a decompression bomb
            declares them in its header: checked before decoding), or corrupt data.
    """
    if len(data) > MAX_BYTES:
        raise UploadError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is "
                          f"{MAX_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ("JPEG", "PNG"):
                raise UploadError(f"{name} is {image.format or 'not an image'}; upload a JPEG "
                                  "or PNG photo.")
            if image.width * image.height > MAX_PIXELS:
                raise UploadError(f"{name} has {image.width}x{image.height} pixels; the limit is "
                                  f"{MAX_PIXELS:,} pixels.")
            image.load()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadError(f"{name} declares too many pixels to decode safely ({error}).") from None
    except Exception as error:  # PIL raises many kinds for unreadable bytes
        raise UploadError(f"{name} is not a readable JPEG or PNG image ({error}).") from None
    return np.asarray(image.convert("RGB"))


def mask_png(mask: np.ndarray, binary: bool) -> bytes:
    """The mask as a PNG: 0/255 for a car mask, class ids otherwise."""
    buffer = io.BytesIO()
    pixels = mask * 255 if binary else mask
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def main(model_path: str) -> None:
    import streamlit as st

    from unet import checkpoints, viz
    from unet.data import carvana
    from unet.inference import predict_array, settings_for

    st.set_page_config(page_title="U-Net car masks", layout="wide")
    st.title("U-Net segmentation")
    st.caption("Upload a car photo: the model predicts its mask at the photo's own size.")

    @st.cache_resource
    def load(path):
        model = checkpoints.load_model(path, compile=False)
        return model, settings_for(path, model)

    with st.spinner(f"Loading the model {model_path}..."):
        model, settings = load(model_path)
    upload = st.file_uploader("Photo (JPEG or PNG)", type=["jpg", "jpeg", "png"])
    if upload is None:
        st.info("No photo yet.")
        return
    try:
        image = read_upload(upload.getvalue(), upload.name)
    except UploadError as error:
        st.error(str(error))
        return
    tta = st.checkbox("Average with the horizontal flip (test-time augmentation)")
    mask = predict_array(model, image, settings, tta="flip" if tta else None)
    left, right = st.columns(2)
    shown = mask * 255 if settings.binary else viz.class_map(mask)
    left.image(shown.astype(np.uint8), caption=f"mask {mask.shape[1]}x{mask.shape[0]}")
    picture = viz.overlay(image, mask) if settings.binary else viz.class_map(mask)
    right.image(picture, caption="overlay")
    stem = os.path.splitext(os.path.basename(upload.name))[0] or "photo"
    st.download_button("Download the mask (PNG)", data=mask_png(mask, settings.binary),
                       file_name=f"{stem}_mask.png", mime="image/png")
    if settings.binary:
        rle = carvana.rle_encode(mask)
        st.download_button("Download the run-length encoding (Kaggle format)", data=rle,
                           file_name=f"{stem}_rle.txt", mime="text/plain")
        st.metric("Share of the photo that is car", f"{mask.mean():.1%}")


def _model_path(argv) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=os.environ.get("UNET_APP_MODEL"))
    args, _ = parser.parse_known_args(argv)
    if not args.model:
        raise SystemExit("Give the model: --model PATH (or set UNET_APP_MODEL).")
    return args.model


if __name__ == "__main__":
    main(_model_path(sys.argv[1:]))
