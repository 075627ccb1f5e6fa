"""The TFDS builders, tested with TFDS's own `DatasetBuilderTestCase` on generated fixtures."""

import tempfile

import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("tensorflow_datasets.testing")

from tensorflow_datasets import testing as tfds_testing  # noqa: E402

from unet.data import synthetic, tfds_builders  # noqa: E402

pytestmark = pytest.mark.slow


class CarvanaBuilderTest(tfds_testing.DatasetBuilderTestCase):
    DATASET_CLASS = tfds_builders.Carvana
    SPLITS = {"train": 32, "validation": 16}  # 3 cars: one car (16 views) for validation
    BUILDER_CONFIG_NAMES_TO_TEST = ["native", "128x192"]
    SKIP_TF1_GRAPH_MODE = True
    MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

    @classmethod
    def setUpClass(cls):
        cls.EXAMPLE_DIR = synthetic.make_carvana_like(
            tempfile.mkdtemp(), cars=3, image_size=(32, 48), seed=7, progress=False)
        super().setUpClass()


class CarlaBuilderTest(tfds_testing.DatasetBuilderTestCase):
    DATASET_CLASS = tfds_builders.Carla
    SPLITS = {"train": 20, "validation": 20}  # two blocks of 20 consecutive frames
    BUILDER_CONFIG_NAMES_TO_TEST = ["native", "96x128"]
    SKIP_TF1_GRAPH_MODE = True
    MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

    @classmethod
    def setUpClass(cls):
        root = tempfile.mkdtemp()
        synthetic.make_carla_like(f"{root}/data", count=40, image_size=(24, 32), seed=7,
                                  progress=False)
        cls.EXAMPLE_DIR = root  # the Coursera `data/` parent, as users unzip it
        super().setUpClass()


def test_builders_are_registered_under_their_names():
    assert {"carvana", "carla"} <= set(tfds.list_builders(with_community_datasets=False))
