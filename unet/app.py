"""The web demo: upload a car photo, see its predicted mask and overlay, download both.

    python -m unet app --model runs/<dataset>/<preset>/<folder>/best.keras
    streamlit run unet/app.py -- --model runs/<dataset>/<preset>/<folder>/best.keras

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

from unet.data import image_files
from unet.errors import UploadError

MAX_BYTES = 25 * 1024 * 1024


def read_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """Decodes uploaded bytes as an RGB image, refusing what should not be decoded.

    Raises:
        UploadError: too large a file, not a JPEG or PNG, over `image_files.MAX_PIXELS` (a
            decompression bomb declares them in its header: checked before decoding), or
            corrupt data.
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
            if image.width * image.height > image_files.MAX_PIXELS:
                raise UploadError(f"{name} has {image.width}x{image.height} pixels; the limit is "
                                  f"{image_files.MAX_PIXELS:,} pixels.")
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
    from unet import postprocess  # TensorFlow: loaded once a model predicts, not to read uploads

    buffer = io.BytesIO()
    Image.fromarray(postprocess.mask_values(mask, binary)).save(buffer, format="PNG")
    return buffer.getvalue()


def main(model_path: str) -> None:
    import streamlit as st

    from unet import checkpoints, postprocess, viz
    from unet.data import carvana
    from unet.inference import input_spec_for, predict_array

    st.set_page_config(page_title="U-Net car masks", layout="wide")
    st.title("U-Net segmentation")
    st.caption("Upload a car photo: the model predicts its mask at the photo's own size.")

    @st.cache_resource
    def load(path):
        model = checkpoints.load_model(path, compile=False)
        return model, input_spec_for(path, model)

    with st.spinner(f"Loading the model {model_path}..."):
        model, spec = load(model_path)
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
    mask = predict_array(model, image, spec, tta="flip" if tta else None)
    left, right = st.columns(2)
    shown = postprocess.mask_values(mask, True) if spec.binary else viz.class_map(mask)
    left.image(shown, caption=f"mask {mask.shape[1]}x{mask.shape[0]}")
    right.image(viz.prediction_picture(image, mask, spec.binary), caption="overlay")
    stem = os.path.splitext(os.path.basename(upload.name))[0] or "photo"
    st.download_button("Download the mask (PNG)", data=mask_png(mask, spec.binary),
                       file_name=f"{stem}_mask.png", mime="image/png")
    if spec.binary:
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
