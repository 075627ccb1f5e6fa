import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from unet import checkpoints, losses, metrics
from unet.model import build_unet


def compiled_model(num_classes=1, loss="bce_dice"):
    model = build_unet(input_shape=(None, None, 3), filters=4, depth=2, num_classes=num_classes)
    model.compile(optimizer="adam", loss=losses.get_loss(loss, num_classes),
                  metrics=metrics.training_metrics(num_classes))
    return model


@pytest.mark.slow
@pytest.mark.parametrize("num_classes, loss", [(1, "bce_dice"), (1, "dice"), (3, "sparse_ce")])
def test_round_trip_keeps_predictions_losses_and_metrics(tmp_path, rng, num_classes, loss):
    model = compiled_model(num_classes, loss)
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    masks = rng.integers(0, max(num_classes, 2), (2, 16, 16, 1))
    model.fit(images, masks, epochs=1, verbose=0)  # batch norm statistics move away from init
    path = checkpoints.save_model(model, tmp_path / "best.keras")
    restored = checkpoints.load_model(path)
    np.testing.assert_allclose(restored.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-6)
    assert type(restored.loss) is type(model.loss)
    before = model.evaluate(images, masks, verbose=0, return_dict=True)
    after = restored.evaluate(images, masks, verbose=0, return_dict=True)
    assert after == pytest.approx(before, abs=1e-5)
    assert not list(tmp_path.glob(".*partial*")), "the temporary file must be renamed away"


@pytest.mark.slow
def test_a_fresh_process_loads_with_plain_keras_after_importing_unet(tmp_path, rng):
    model = compiled_model()
    images = rng.random((1, 8, 8, 3)).astype(np.float32)
    path = checkpoints.save_model(model, tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", model.predict(images, verbose=0))
    script = (
        "import sys, numpy as np, keras, unet.losses, unet.metrics\n"
        "d = sys.argv[1]\n"
        "m = keras.models.load_model(d + '/model.keras')\n"  # no custom_objects, safe mode on
        "assert type(m.loss).__name__ == 'BCEDiceLoss', m.loss\n"
        "np.testing.assert_allclose(m.predict(np.load(d + '/images.npy'), verbose=0),"
        " np.load(d + '/expected.npy'), atol=1e-6)\n"
        "print('loaded', m.name)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded unet" in result.stdout
    assert path.name == "model.keras"


def test_missing_truncated_and_foreign_files_name_the_path_and_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint at .*absent.keras"):
        checkpoints.load_model(tmp_path / "absent.keras")

    good = checkpoints.save_model(compiled_model(), tmp_path / "good.keras")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(checkpoints.CheckpointError, match="truncated.keras is not a .keras"):
        checkpoints.load_model(truncated)

    foreign = tmp_path / "notes.keras"
    foreign.write_text("not a model")
    with pytest.raises(checkpoints.CheckpointError, match="notes.keras is not a .keras archive"):
        checkpoints.load_model(foreign)

    import zipfile
    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(checkpoints.CheckpointError, match="not a Keras model \\(no config.json\\)"):
        checkpoints.load_model(other_zip)


def test_save_refuses_other_extensions(tmp_path):
    with pytest.raises(ValueError, match="Checkpoints are .keras files"):
        checkpoints.save_model(compiled_model(), tmp_path / "model.h5")


def test_find_checkpoint_by_role(tmp_path):
    assert checkpoints.find_checkpoint(tmp_path, "best") is None
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = checkpoints.save_model(model, tmp_path / "best.keras")
    assert checkpoints.find_checkpoint(tmp_path, "last") is None
    last = checkpoints.save_model(model, tmp_path / "last.keras")
    assert checkpoints.find_checkpoint(tmp_path, "best") == best
    assert checkpoints.find_checkpoint(tmp_path, "last") == last
    with pytest.raises(ValueError, match="role must be one of"):
        checkpoints.find_checkpoint(tmp_path, "newest")
