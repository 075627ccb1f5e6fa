import keras
import numpy as np
import pytest

from unet import losses, metrics
from unet.config import ModelConfig
from unet.model import (
    build_mobilenetv2_unet,
    build_model,
    build_unet,
    check_input_shape,
)


def test_canonical_unet_has_the_published_parameter_count():
    model = build_unet()  # 64 filters, depth 4, kernel 3, batch norm, transposed upsampling
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert model.count_params() == 31_049_409
    assert trainable == 31_037_633


def test_convolutions_before_batch_norm_carry_no_bias():
    model = build_unet(input_shape=(32, 32, 3), filters=4, depth=2)
    assert model.get_layer("encoder1_conv1").use_bias is False
    assert build_unet(input_shape=(32, 32, 3), filters=4, depth=2, batch_norm=False).get_layer(
        "encoder1_conv1"
    ).use_bias is True


def test_layers_have_stable_explicit_names():
    names = {layer.name for layer in build_unet(filters=4, depth=4).layers}
    expected = {"image", "encoder1_conv1", "encoder4_pool", "bottleneck_conv2",
                "decoder3_upsample", "decoder1_concat", "decoder1_conv2", "head"}
    assert expected <= names


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize("num_classes", [1, 5])
def test_output_is_float32_logits_at_input_resolution(upsampling, num_classes):
    model = build_unet(filters=4, depth=3, num_classes=num_classes, upsampling=upsampling,
                       dropout_rate=0.1)
    logits = model(np.zeros((2, 40, 56, 3), np.float32))
    assert tuple(logits.shape) == (2, 40, 56, num_classes)
    assert logits.dtype == "float32"


def test_kernel_size_changes_the_convolutions():
    model = build_unet(input_shape=(32, 32, 3), filters=4, depth=2, kernel_size=5)
    assert model.get_layer("decoder2_conv1").kernel.shape[:2] == (5, 5)


def test_head_stays_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = build_unet(input_shape=(32, 32, 3), filters=4, depth=2)
    assert model.get_layer("encoder1_conv1").compute_dtype == "float16"
    assert model(np.zeros((1, 32, 32, 3), np.float32)).dtype == "float32"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (100, 96, 3)},
         "height 100 \\(--image-size\\) is not divisible by 2\\*\\*depth = 16"),
        ({"input_shape": (96, 1918, 3)}, "use 1904 or 1920"),
        ({"input_shape": (96, 96)}, "must be \\(height, width, channels\\)"),
        ({"kernel_size": 4}, "kernel_size must be odd"),
        ({"upsampling": "nearest"}, "upsampling must be one of"),
        ({"num_classes": 0}, "num_classes must be a positive whole number"),
        ({"dropout_rate": 1.0}, "dropout_rate must be in"),
        ({"depth": 0}, "depth must be a positive whole number"),
    ],
)
def test_bad_arguments_raise_value_error_saying_what_would_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_unet(**kwargs)


def test_wrong_channel_count_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match="needs 3 input channels; received 4"):
        check_input_shape((64, 64, 4), depth=4, channels=3)
    with pytest.raises(ValueError, match="needs 3 input channels; received 1"):
        build_mobilenetv2_unet(input_shape=(64, 64, 1), encoder_weights=None)


@pytest.mark.slow
def test_mobilenetv2_unet_predicts_at_input_resolution():
    model = build_mobilenetv2_unet(num_classes=4, encoder_weights=None)
    logits = model(np.zeros((1, 64, 96, 3), np.float32))
    assert tuple(logits.shape) == (1, 64, 96, 4)
    assert logits.dtype == "float32"
    assert {"encoder", "decoder1_upsample", "decoder4_concat", "head"} <= {
        layer.name for layer in model.layers
    }


def test_mobilenetv2_unet_rejects_sizes_not_divisible_by_32():
    with pytest.raises(ValueError, match="not divisible by 2\\*\\*depth = 32"):
        build_mobilenetv2_unet(input_shape=(48, 64, 3), encoder_weights=None)


@pytest.mark.slow
def test_freezing_the_encoder_leaves_only_the_decoder_trainable():
    frozen = build_mobilenetv2_unet(encoder_weights=None, freeze_encoder=True)
    free = build_mobilenetv2_unet(encoder_weights=None)
    encoder_trainable = len(free.get_layer("encoder").trainable_weights)
    assert encoder_trainable > 0
    assert frozen.get_layer("encoder").trainable_weights == []
    assert len(free.trainable_weights) - len(frozen.trainable_weights) == encoder_trainable


@pytest.mark.slow
@pytest.mark.parametrize(
    "config, loss_name",
    [
        (ModelConfig(filters=4, depth=2, num_classes=1), "bce_dice"),
        (ModelConfig(filters=4, depth=2, num_classes=3), "sparse_ce"),
        (ModelConfig(architecture="mobilenetv2", num_classes=1), "bce"),
        (ModelConfig(architecture="mobilenetv2", num_classes=3), "dice"),
    ],
)
def test_a_training_step_lowers_the_loss_on_cpu(config, loss_name, rng):
    model = build_model(config, input_shape=(32, 32, 3))
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=losses.get_loss(loss_name, config.num_classes),
                  metrics=metrics.training_metrics(config.num_classes))
    images = rng.random((4, 32, 32, 3)).astype(np.float32)
    num_labels = max(config.num_classes, 2)
    masks = rng.integers(0, num_labels, (4, 32, 32, 1)).astype(np.uint8)
    before = model.evaluate(images, masks, verbose=0, return_dict=True)["loss"]
    model.fit(images, masks, epochs=8, batch_size=4, verbose=0)
    after = model.evaluate(images, masks, verbose=0, return_dict=True)
    assert np.isfinite(after["loss"]) and after["loss"] < before
    assert 0.0 <= after["dice"] <= 1.0


def test_builder_options_without_special_cases():
    from unet.model import dropout_per_block

    assert dropout_per_block(0.3, depth=4) == (0.0, 0.0, 0.0, 0.3, 0.3)
    assert dropout_per_block(0.5, depth=3, dropout_levels=1) == (0.0, 0.0, 0.0, 0.5)
    assert dropout_per_block((0.1, 0.2, 0.3), depth=2) == (0.1, 0.2, 0.3)
    with pytest.raises(ValueError, match="one rate per encoder level"):
        dropout_per_block((0.1, 0.2), depth=2)
    model = build_unet(input_shape=(32, 32, 3), filters=4, depth=2, batch_norm=False,
                       dropout_rate=(0.1, 0.0, 0.2), upsample_kernel_size=3,
                       kernel_initializer="glorot_uniform", head_conv=True)
    names = {layer.name for layer in model.layers}
    assert {"encoder1_dropout", "bottleneck_dropout", "head_conv"} <= names
    assert "encoder2_dropout" not in names
    assert model.get_layer("decoder1_upsample").kernel.shape[:2] == (3, 3)
    assert type(model.get_layer("encoder1_conv1").kernel_initializer).__name__ == "GlorotUniform"
    # Each option changes the count by exactly its own weights.
    plain = build_unet(input_shape=(32, 32, 3), filters=4, depth=2, batch_norm=False)
    with_head = build_unet(input_shape=(32, 32, 3), filters=4, depth=2, batch_norm=False,
                           head_conv=True)
    assert with_head.count_params() - plain.count_params() == 3 * 3 * 4 * 4 + 4
    wide_up = build_unet(input_shape=(32, 32, 3), filters=4, depth=2, batch_norm=False,
                         upsample_kernel_size=3)
    # Transposed kernels of decoder2 (16->8) and decoder1 (8->4): 9 - 4 more taps each.
    assert wide_up.count_params() - plain.count_params() == 5 * (16 * 8 + 8 * 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"upsample_kernel_size": 4}, "upsample_kernel_size must be one of"),
    ({"kernel_initializer": "zeros"}, "kernel_initializer must be one of"),
    ({"dropout_rate": 0.2, "dropout_levels": 9}, "dropout_levels must be"),
    ({"dropout_rate": (0.1, 1.0, 0.0, 0.0, 0.0)}, "dropout_rate must be in"),
])
def test_bad_builder_options_say_what_would_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_unet(**kwargs)


def test_model_config_carries_the_builder_options():
    config = ModelConfig(filters=4, depth=2, dropout_rate=[0.0, 0.1, 0.2], head_conv=True,
                         upsample_kernel_size=3, batch_norm=False)
    assert config.dropout_rate == (0.0, 0.1, 0.2)
    model = build_model(config, (32, 32, 3))
    assert {"encoder2_dropout", "bottleneck_dropout", "head_conv"} <= {
        layer.name for layer in model.layers}
    with pytest.raises(ValueError, match="upsample_kernel_size must be one of"):
        ModelConfig(upsample_kernel_size=5)
