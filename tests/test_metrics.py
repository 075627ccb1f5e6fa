import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, jaccard_score

from unet import metrics

# 3x3 masks checked on paper: TP=2 (top row), FP=1, FN=1.
TRUE = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
PRED = np.array([[1, 1, 1], [0, 0, 0], [0, 0, 0]])


def as_probabilities(labels):
    """Hard {0,1} labels -> (B, H, W, 1) probabilities."""
    return np.asarray(labels, np.float32)[..., None]


def score(fn, true, pred, **kwargs):
    return float(fn(np.asarray(true)[None] if np.ndim(true) == 2 else true,
                    as_probabilities(pred[None] if np.ndim(pred) == 2 else pred),
                    from_logits=False, **kwargs))


def test_dice_iou_and_accuracy_on_a_hand_computed_mask():
    assert score(metrics.dice, TRUE, PRED) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # 0.667
    assert score(metrics.iou, TRUE, PRED) == pytest.approx(2 / 4)
    assert score(metrics.pixel_accuracy, TRUE, PRED) == pytest.approx(7 / 9)


@pytest.mark.parametrize(
    "true, pred, empty_score, expected",
    [
        (np.zeros((3, 3)), np.zeros((3, 3)), 1.0, 1.0),  # Kaggle's convention
        (np.zeros((3, 3)), np.zeros((3, 3)), 0.0, 0.0),  # the other one, when asked
        (np.zeros((3, 3)), np.eye(3), 1.0, 0.0),  # prediction on an empty mask
        (np.eye(3), np.zeros((3, 3)), 1.0, 0.0),  # missed everything
    ],
)
def test_empty_masks_score_as_stated(true, pred, empty_score, expected):
    assert score(metrics.dice, true, pred, empty_score=empty_score) == expected
    assert score(metrics.iou, true, pred, empty_score=empty_score) == expected


def test_per_image_mean_differs_from_dataset_pooling():
    # Image 1: perfect small mask (Dice 1). Image 2: 1 of 7 pixels found (Dice 2/8 = 0.25).
    true = np.zeros((2, 3, 3), int)
    pred = np.zeros((2, 3, 3), int)
    true[0, 0, 0] = pred[0, 0, 0] = 1
    true[1].flat[:7] = 1
    pred[1].flat[0] = 1
    per_image = score(metrics.dice, true, pred, aggregate="per_image")
    pooled = score(metrics.dice, true, pred, aggregate="dataset")
    assert per_image == pytest.approx((1.0 + 0.25) / 2)
    assert pooled == pytest.approx(2 * 2 / (2 * 2 + 0 + 6))  # TP=2, FN=6 over both images


def test_threshold_and_logits_are_applied():
    logits = np.array([[[[-1.0], [0.5]], [[2.0], [-3.0]]]])  # sigmoid > 0.5 where logit > 0
    true = np.array([[[0, 1], [1, 0]]])
    assert float(metrics.dice(true, logits)) == 1.0
    assert float(metrics.dice(true, logits, threshold=0.8)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_scores_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    true = (rng.random((4, 17, 23)) > 0.6).astype(int)
    probabilities = rng.random((4, 17, 23))
    pred = (probabilities > 0.5).astype(int)
    kwargs = {"from_logits": False, "aggregate": "dataset"}
    y = as_probabilities(probabilities)
    assert float(metrics.dice(true, y, **kwargs)) == pytest.approx(
        f1_score(true.ravel(), pred.ravel()), abs=1e-6)
    assert float(metrics.iou(true, y, **kwargs)) == pytest.approx(
        jaccard_score(true.ravel(), pred.ravel()), abs=1e-6)
    assert float(metrics.pixel_accuracy(true, y, from_logits=False)) == pytest.approx(
        accuracy_score(true.ravel(), pred.ravel()), abs=1e-6)
    per_image = [f1_score(t.ravel(), p.ravel()) for t, p in zip(true, pred)]
    assert float(metrics.dice(true, y, from_logits=False)) == pytest.approx(
        np.mean(per_image), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_scores_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    num_classes = 6
    true = rng.integers(0, num_classes - 1, (3, 11, 13))  # class 5 never appears in the truth
    logits = rng.normal(size=(3, 11, 13, num_classes))
    logits[..., 5] -= 10.0  # ...nor in the prediction: it must be left out of the means
    pred = logits.argmax(-1)
    present = sorted(set(true.ravel()) | set(pred.ravel()))
    assert 5 not in present
    scores = metrics.per_class_scores(true, logits, num_classes=num_classes)
    expected_iou = jaccard_score(true.ravel(), pred.ravel(), labels=present, average=None)
    np.testing.assert_allclose(np.asarray(scores["iou"])[present], expected_iou, atol=1e-6)
    expected_f1 = f1_score(true.ravel(), pred.ravel(), labels=present, average=None)
    np.testing.assert_allclose(np.asarray(scores["dice"])[present], expected_f1, atol=1e-6)
    assert np.isnan(np.asarray(scores["iou"])[5])
    kwargs = {"num_classes": num_classes, "aggregate": "dataset"}
    assert float(metrics.iou(true, logits, **kwargs)) == pytest.approx(
        jaccard_score(true.ravel(), pred.ravel(), labels=present, average="macro"), abs=1e-6)
    assert float(metrics.dice(true, logits, **kwargs)) == pytest.approx(
        f1_score(true.ravel(), pred.ravel(), labels=present, average="macro"), abs=1e-6)
    assert float(metrics.pixel_accuracy(true, logits, num_classes=num_classes)) == pytest.approx(
        accuracy_score(true.ravel(), pred.ravel()), abs=1e-6)


@pytest.mark.parametrize("fn", [metrics.dice, metrics.iou, metrics.pixel_accuracy])
@pytest.mark.parametrize("num_classes", [1, 4])
def test_a_batch_scored_per_image_equals_the_mean_of_single_images(fn, num_classes, rng):
    true = rng.integers(0, max(num_classes, 2), (5, 9, 9, 1))
    logits = rng.normal(size=(5, 9, 9, num_classes)).astype(np.float32)
    batch = float(fn(true, logits, num_classes=num_classes))
    singles = [float(fn(true[i:i + 1], logits[i:i + 1], num_classes=num_classes))
               for i in range(5)]
    assert batch == pytest.approx(np.mean(singles), abs=1e-6)


@pytest.mark.parametrize("aggregate", ["per_image", "dataset"])
@pytest.mark.parametrize("num_classes", [1, 4])
def test_streaming_keras_metrics_equal_the_functions_on_the_whole_set(aggregate, num_classes,
                                                                      rng):
    true = rng.integers(0, max(num_classes, 2), (6, 8, 8, 1))
    true[0] = 0  # an all-background image
    logits = rng.normal(size=(6, 8, 8, num_classes)).astype(np.float32)
    for metric_class, fn in ((metrics.Dice, metrics.dice), (metrics.IoU, metrics.iou)):
        metric = metric_class(num_classes=num_classes, aggregate=aggregate)
        for start in (0, 2, 4):  # three batches
            metric.update_state(true[start:start + 2], logits[start:start + 2])
        expected = fn(true, logits, num_classes=num_classes, aggregate=aggregate)
        assert float(metric.result()) == pytest.approx(float(expected), abs=1e-6)
    accuracy = metrics.PixelAccuracy(num_classes=num_classes)
    accuracy.update_state(true[:3], logits[:3])
    accuracy.update_state(true[3:], logits[3:])
    assert float(accuracy.result()) == pytest.approx(
        float(metrics.pixel_accuracy(true, logits, num_classes=num_classes)), abs=1e-6)


def test_unknown_aggregate_is_rejected():
    with pytest.raises(ValueError, match="aggregate must be one of"):
        metrics.dice(TRUE[None], as_probabilities(PRED[None]), aggregate="mean")


def _square(offset=0, size=(40, 40)):
    mask = np.zeros(size, np.uint8)
    mask[10 + offset:30 + offset, 10:30] = 1
    return mask


@pytest.mark.parametrize("offset, expected", [(0, 1.0), (1, 1.0), (2, 1.0)])
def test_boundary_f_forgives_shifts_within_the_tolerance(offset, expected):
    assert metrics.boundary_f_score(_square(), _square(offset), tolerance=2) == expected


def test_boundary_f_by_hand_for_a_shift_beyond_the_tolerance():
    # Shifted down 4 px. Each outline: 76 px (a 20x20 square less its 18x18 core). Of the
    # truth's outline, within 2 px of the shifted one: its two side columns from row 12 on
    # (2 x 18 = 36), and on its bottom edge (row 29) the 2 x 2 pixels next to the shifted
    # sides (x = 11, 12, 27, 28): 40 of 76. The same holds the other way, so F = 40 / 76.
    score = metrics.boundary_f_score(_square(), _square(4), tolerance=2)
    assert score == pytest.approx(40 / 76)
    assert metrics.boundary_f_score(_square(), _square(8), tolerance=2) < score


def test_boundary_f_empty_masks_and_the_image_border():
    empty = np.zeros((40, 40), np.uint8)
    assert metrics.boundary_f_score(empty, empty) == 1.0
    assert metrics.boundary_f_score(empty, _square()) == 0.0
    assert metrics.boundary_f_score(_square(), np.zeros((40, 40), np.uint8)) == 0.0
    full = np.ones((8, 8), np.uint8)  # the image's edge is not an outline
    assert metrics.boundary_f_score(full, full) == 1.0


def test_boundary_f_multi_class_averages_the_classes_present():
    truth = np.zeros((40, 40), np.uint8)
    truth[:, 20:] = 1
    prediction = truth.copy()
    prediction[5:15, 5:15] = 2  # class 2 only in the prediction
    per_class = [metrics.boundary_f_score(truth == c, prediction == c) for c in (0, 1, 2)]
    assert per_class[2] == 0.0 and per_class[1] == 1.0
    assert metrics.boundary_f_score(truth, prediction, num_classes=3) == pytest.approx(
        np.mean(per_class))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.boundary_f_score(truth, truth[:10])


def test_boundary_f_tolerance_is_a_euclidean_disk():
    # A 2x2 blob diagonally off the square's corner: every pixel more than 2 px away.
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    corner = np.zeros_like(truth)
    corner[31:33, 31:33] = 1  # nearest true outline pixel (29, 29): 2*sqrt(2) = 2.83 px
    assert metrics.boundary_f_score(truth, corner, tolerance=2) == 0.0
    assert metrics.boundary_f_score(truth, corner, tolerance=2.9) > 0.0


def test_boundary_f_at_carvana_size_forgives_a_one_pixel_shift():
    import cv2

    truth = np.zeros((1280, 1918), np.uint8)
    cv2.ellipse(truth, (959, 640), (700, 400), 0, 0, 360, 1, -1)
    assert metrics.boundary_f_score(truth, np.roll(truth, 1, axis=0)) == 1.0
    assert metrics.boundary_f_score(truth, np.roll(truth, 20, axis=1)) < 0.5  # its speed: bench/


def _two_class_logits(labels):
    """Hard {0, 1} labels `(B, H, W)` -> 2-class logits `(B, H, W, 2)` whose argmax is them."""
    labels = np.asarray(labels)
    return np.stack([np.where(labels == 0, 5.0, -5.0), np.where(labels == 1, 5.0, -5.0)],
                    axis=-1).astype(np.float32)


def test_two_class_car_metric_is_the_dice_of_the_car_class():
    # Image 1: TRUE vs PRED by hand: car TP=2, FP=1, FN=1 -> 2/3; the background's Dice is
    # 2*5/(6+6) = 5/6, so the mean over both classes would read 0.75.
    # Image 2: no car anywhere, none predicted: scores 1 (Kaggle's empty-vs-empty rule).
    true = np.stack([TRUE, np.zeros((3, 3), int)])
    pred = np.stack([PRED, np.zeros((3, 3), int)])
    dice, iou, accuracy = metrics.training_metrics(2, binary=True)
    for metric in (dice, iou, accuracy):
        metric.update_state(true[..., None], _two_class_logits(pred))
    assert float(dice.result()) == pytest.approx((2 / 3 + 1.0) / 2)
    assert float(iou.result()) == pytest.approx((2 / 4 + 1.0) / 2)
    assert float(accuracy.result()) == pytest.approx((7 / 9 + 1.0) / 2)
    # The same as the binary metric on the same labels, and unlike the 2-class mean.
    binary_dice = metrics.training_metrics(1)[0]
    binary_dice.update_state(true[..., None], as_probabilities(pred) * 20 - 10)
    assert float(dice.result()) == pytest.approx(float(binary_dice.result()))
    mean_dice = metrics.training_metrics(2, binary=False)[0]
    mean_dice.update_state(true[:1, ..., None], _two_class_logits(pred[:1]))
    assert float(mean_dice.result()) == pytest.approx((2 / 3 + 5 / 6) / 2)
    # It survives a save: a resumed run keeps scoring the car class.
    restored = metrics.Dice.from_config(dice.get_config())
    assert restored.positive_class == 1


@pytest.mark.slow
def test_a_trained_two_class_carvana_model_reports_the_car_dice_as_val_dice(softmax_run):
    from unet import checkpoints

    # The run's last checkpoint, compiled as training compiled it (its metrics included).
    model = checkpoints.load_model(softmax_run / "last.keras", compile=True)
    height, width = model.input_shape[1:3]
    height, width = height or 32, width or 48
    head = model.get_layer("head")
    head.kernel.assign(np.zeros(head.kernel.shape))
    head.bias.assign([0.0, 1.0])  # every pixel is car
    true = np.zeros((2, height, width, 1), np.uint8)
    true[0, : height // 2] = 1  # image 1: half car -> Dice 2*(1/2)/(1/2 + 1) = 2/3; image 2: 0
    scores = model.evaluate(np.zeros((2, height, width, 3), np.float32), true, batch_size=2,
                            verbose=0, return_dict=True)
    assert scores["dice"] == pytest.approx((2 / 3 + 0.0) / 2)
