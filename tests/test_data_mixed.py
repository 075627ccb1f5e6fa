"""Data sets whose images or settings differ from one another: each image loads as if alone,
and the data checks say which split and classes training will use."""
import numpy as np
from PIL import Image

from unet.data.pipeline import image_inputs


def _checkerboard_jpeg(path, height, width, cell):
    rows, cols = np.indices((height, width)) // cell
    pixels = np.where((rows + cols) % 2 == 0, 255, 0).astype(np.uint8)
    Image.fromarray(np.stack([pixels] * 3, -1)).save(path, quality=95)
    return path


def test_a_small_jpeg_after_a_large_one_loads_as_it_does_alone(tmp_path):
    large = _checkerboard_jpeg(tmp_path / "large.jpg", 256, 384, 32)
    small = _checkerboard_jpeg(tmp_path / "small.jpg", 32, 48, 4)
    size = (32, 48)
    alone = [inputs for inputs, _, _ in image_inputs([small], image_size=size)]
    mixed = {index: (inputs, native)
             for inputs, native, index in image_inputs([large, small], image_size=size)}
    inputs, native = mixed[1]
    assert native == (32, 48)
    np.testing.assert_array_equal(inputs, alone[0])
    assert inputs.std() > 0.3  # the checkerboard survives: not a flat grey blur
    # the large one still decodes downscaled in the DCT domain and keeps its pattern
    assert mixed[0][0].std() > 0.3
