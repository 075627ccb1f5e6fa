import numpy as np
import pytest

from unet import losses


def test_bce_of_zero_logits_is_log_two():
    values = losses.binary_crossentropy(np.ones((2, 3, 3, 1)), np.zeros((2, 3, 3, 1)))
    np.testing.assert_allclose(values, [np.log(2.0)] * 2, rtol=1e-6)


def test_bce_matches_the_formula_on_a_hand_computed_pixel():
    # One pixel, label 1, logit 2: -log(sigmoid(2)) = log(1 + e^-2).
    value = losses.binary_crossentropy(np.ones((1, 1, 1)), np.full((1, 1, 1, 1), 2.0))
    assert float(value[0]) == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-6)


def test_soft_dice_loss_values():
    true = np.array([[[1, 0], [0, 0]]])
    confident = np.where(true[..., None] == 1, 30.0, -30.0)
    assert float(losses.soft_dice_loss(true, confident)[0]) == pytest.approx(0.0, abs=1e-6)
    # Probabilities 0.5 everywhere: (2 * 0.5 + 1) / (2 + 1 + 1) = 0.5 -> loss 0.5.
    assert float(losses.soft_dice_loss(true, np.zeros((1, 2, 2, 1)))[0]) == pytest.approx(0.5)
    # Empty truth, confident empty prediction: smoothing makes it a perfect score.
    empty = np.zeros((1, 2, 2))
    assert float(losses.soft_dice_loss(empty, np.full((1, 2, 2, 1), -30.0))[0]) == pytest.approx(
        0.0, abs=1e-6)


def test_multiclass_soft_dice_averages_over_classes():
    true = np.array([[[0, 1], [2, 2]]])
    logits = np.eye(3)[true] * 40.0  # confident and correct
    assert float(losses.soft_dice_loss(true, logits, num_classes=3)[0]) == pytest.approx(
        0.0, abs=1e-5)
    uniform = np.zeros((1, 2, 2, 3))  # p = 1/3: class k has n_k pixels
    counts = np.array([1, 1, 2])
    expected = 1 - np.mean((2 * counts / 3 + 1) / (4 / 3 + counts + 1))
    assert float(losses.soft_dice_loss(true, uniform, num_classes=3)[0]) == pytest.approx(
        expected, rel=1e-6)


def test_bce_dice_is_the_weighted_sum(rng):
    true = rng.integers(0, 2, (3, 5, 5, 1))
    logits = rng.normal(size=(3, 5, 5, 1))
    combined = losses.bce_dice_loss(true, logits, bce_weight=0.3, dice_weight=2.0)
    expected = 0.3 * losses.binary_crossentropy(true, logits) + 2.0 * losses.soft_dice_loss(
        true, logits)
    np.testing.assert_allclose(combined, expected, rtol=1e-6)


def test_class_weights_reweight_pixels_by_their_true_class():
    true = np.array([[[0, 1]]])
    logits = np.zeros((1, 1, 2, 2))
    logits[0, 0, 1] = [0.0, 2.0]  # pixel 0: loss log 2; pixel 1: log(1 + e^-2)
    pixel = np.array([np.log(2.0), np.log1p(np.exp(-2.0))])
    plain = losses.sparse_categorical_crossentropy(true, logits)
    assert float(plain[0]) == pytest.approx(pixel.mean(), rel=1e-6)
    weighted = losses.sparse_categorical_crossentropy(true, logits, class_weights=[1.0, 3.0])
    assert float(weighted[0]) == pytest.approx((pixel[0] + 3 * pixel[1]) / 4, rel=1e-6)
    same = losses.sparse_categorical_crossentropy(true, logits, class_weights=[2.0, 2.0])
    assert float(same[0]) == pytest.approx(float(plain[0]), rel=1e-6)


def test_keras_wrappers_average_the_functions_over_the_batch(rng):
    true = rng.integers(0, 2, (4, 6, 6, 1))
    logits = rng.normal(size=(4, 6, 6, 1)).astype(np.float32)
    assert float(losses.BCEDiceLoss()(true, logits)) == pytest.approx(
        float(np.mean(losses.bce_dice_loss(true, logits))), rel=1e-6)
    assert float(losses.get_loss("bce")(true, logits)) == pytest.approx(
        float(np.mean(losses.binary_crossentropy(true, logits))), rel=1e-6)


@pytest.mark.parametrize(
    "name, num_classes, weights, message",
    [
        ("focal", 1, None, "loss must be one of"),
        ("bce", 3, None, "is binary but num_classes=3"),
        ("sparse_ce", 1, None, "needs num_classes > 1"),
        ("sparse_ce", 3, [1.0, 2.0], "class_weights needs 3 values"),
    ],
)
def test_get_loss_rejects_mismatches(name, num_classes, weights, message):
    with pytest.raises(ValueError, match=message):
        losses.get_loss(name, num_classes, weights)
