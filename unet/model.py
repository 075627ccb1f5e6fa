"""U-Net builders (from scratch, and with a MobileNetV2 encoder) and the input-shape check.

The builders check their arguments by `unet.config.ModelConfig`'s rules (one place for each),
raising `unet.errors.ConfigError`, a `ValueError`.
"""

from __future__ import annotations

import dataclasses
import warnings

import keras

from unet.config import ModelConfig, dropout_per_block
from unet.errors import ConfigError, UsageError


def check_input_shape(input_shape, depth: int, channels: int | None = None,
                      field: str = "data.image_size") -> None:
    """Raises `ConfigError` unless `input_shape` (H, W, C) fits a U-Net of `depth` levels, with
    `channels` channels when given: known sizes must be divisible by 2**depth (every level halves
    them, and the decoder meets the encoder at the same size); `None` accepts any size. `field`
    is the size's own (`data.image_size` or `data.crop_size`), which the advice names."""
    if len(input_shape) != 3:
        raise ConfigError("input_shape must be (height, width, channels); "
                         f"received {tuple(input_shape)}.")
    height, width, num_channels = input_shape
    if channels is not None and num_channels != channels:
        raise ConfigError(
            f"This model needs {channels} input channels; received {num_channels} "
            f"(input_shape={tuple(input_shape)}). Convert RGBA or grayscale images to RGB first.")
    if num_channels is None or num_channels < 1:
        raise ConfigError(f"input_shape needs a positive channel count; received {num_channels}.")
    multiple = 2**depth
    flag = "--" + field.split(".")[-1].replace("_", "-")
    for name, size in (("height", height), ("width", width)):
        if size is None or size % multiple == 0:
            continue
        lower = (size // multiple) * multiple
        if not lower:  # deeper than the size can be halved
            known = [s for s in (height, width) if s is not None]
            deepest = min((s & -s).bit_length() - 1 for s in known)  # the 2s in each size
            takes = (f"{'x'.join(map(str, known))} takes --depth {deepest} or less"
                     if deepest else "use sizes divisible by 2")
            raise ConfigError(
                f"{name} {size} ({flag}) is smaller than 2**depth = {multiple} (depth={depth}), "
                f"and each level halves it: {takes}.", field="model.depth")
        raise ConfigError(
            f"{name} {size} ({flag}) is not divisible by 2**depth = {multiple} "
            f"(depth={depth}); use {lower} or {lower + multiple}.", field=field)


def _conv_block(x, filters: int, kernel_size: int, batch_norm: bool, name: str,
                momentum: float = 0.99, kernel_initializer: str = "he_normal"):
    """Two (convolution, batch norm, ReLU) layers: the U-Net's basic unit.

    A convolution followed by batch norm carries no bias: the norm's offset replaces it.
    """
    for index in (1, 2):
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=kernel_initializer,
            name=f"{name}_conv{index}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=momentum, name=f"{name}_bn{index}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{index}")(x)
    return x


def _upsample(x, filters: int, upsampling: str, name: str, kernel_size: int = 2):
    if upsampling == "transpose":
        return keras.layers.Conv2DTranspose(
            filters, kernel_size, strides=2, padding="same", name=f"{name}_upsample"
        )(x)
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_upsample")(x)
    return keras.layers.Conv2D(filters, 1, padding="same", name=f"{name}_upsample_conv")(x)


def build_unet(
    input_shape=(None, None, 3),
    num_classes: int = 1,
    filters: int = 64,
    depth: int = 4,
    kernel_size: int = 3,
    batch_norm: bool = True,
    dropout_rate=0.0,
    upsampling: str = "transpose",
    batch_norm_momentum: float = 0.99,
    name: str = "unet",
    dropout_levels: int = 2,
    upsample_kernel_size: int = 2,
    kernel_initializer: str = "he_normal",
    head_conv: bool = False,
) -> keras.Model:
    """Builds a U-Net (Ronneberger et al., 2015) with padded convolutions and batch norm.

    The options cover the published variants the recipes (`unet.recipes`) reproduce: the
    canonical net is the default; the Coursera CARLA net is `filters=32, batch_norm=False,
    dropout_rate=0.3, upsample_kernel_size=3, head_conv=True, num_classes=23`.

    Args:
        input_shape: `(height, width, channels)`; `None` sizes accept any multiple of 2**depth.
        num_classes: 1 for a binary mask (one logit channel), more for one logit per class.
        filters: Width of the first level; each level below doubles it.
        depth: Number of down-sampling steps (the bottleneck is at 1 / 2**depth resolution).
        kernel_size: Odd convolution kernel size.
        batch_norm: Batch normalisation after every convolution.
        dropout_rate: One rate for the `dropout_levels` deepest blocks, or one rate per block
            (`depth` encoder levels, then the bottleneck); 0 disables it. Dropout follows the
            block's convolutions, so the skip connection carries it too.
        upsampling: `"transpose"` (transposed convolution, stride 2) or `"bilinear"` (resize,
            then a 1x1 convolution).
        batch_norm_momentum: Momentum of the moving statistics; lower (0.9) suits short runs of
            a few hundred steps, where 0.99 leaves validation-time statistics lagging.
        dropout_levels: How many of the deepest blocks a single `dropout_rate` applies to.
        upsample_kernel_size: Kernel of the transposed convolutions: 2 (canonical) or 3.
        kernel_initializer: Initialiser of the 3x3 convolutions: `"he_normal"` or
            `"glorot_uniform"` (Keras' default).
        head_conv: A `filters`-wide convolution with ReLU before the 1x1 head (`head_conv`).

    Returns:
        A functional `keras.Model` mapping images in [0, 1] to float32 logits of shape
        `(batch, height, width, num_classes)`.
    """
    ModelConfig(num_classes=num_classes, filters=filters, depth=depth, kernel_size=kernel_size,
                dropout_rate=dropout_rate, upsampling=upsampling, dropout_levels=dropout_levels,
                upsample_kernel_size=upsample_kernel_size, kernel_initializer=kernel_initializer)
    rates = dropout_per_block(dropout_rate, depth, dropout_levels)
    check_input_shape(input_shape, depth)

    def block(x, block_filters, block_name, rate):
        x = _conv_block(x, block_filters, kernel_size, batch_norm, block_name,
                        batch_norm_momentum, kernel_initializer)
        if rate:
            x = keras.layers.Dropout(rate, name=f"{block_name}_dropout")(x)
        return x

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for level in range(1, depth + 1):
        x = block(x, filters * 2 ** (level - 1), f"encoder{level}", rates[level - 1])
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder{level}_pool")(x)
    x = block(x, filters * 2**depth, "bottleneck", rates[depth])

    # Decoder levels are numbered like the encoder level they meet (decoder4 first).
    for level in range(depth, 0, -1):
        level_filters = filters * 2 ** (level - 1)
        x = _upsample(x, level_filters, upsampling, f"decoder{level}", upsample_kernel_size)
        x = keras.layers.Concatenate(name=f"decoder{level}_concat")([x, skips[level - 1]])
        x = _conv_block(x, level_filters, kernel_size, batch_norm, f"decoder{level}",
                        batch_norm_momentum, kernel_initializer)

    if head_conv:
        x = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="relu",
                                kernel_initializer=kernel_initializer, name="head_conv")(x)
    # float32 head: logits stay exact under a mixed_float16 policy.
    logits = keras.layers.Conv2D(num_classes, 1, dtype="float32", name="head")(x)
    return keras.Model(inputs, logits, name=name)


MOBILENETV2_DEPTH = 5  # MobileNetV2 halves its input five times
# MobileNetV2 activations used as skip connections, as in the TensorFlow segmentation tutorial,
# at 1/2, 1/4, 1/8, 1/16 of the input; the deepest (1/32) feeds the decoder.
MOBILENETV2_SKIPS = (
    "block_1_expand_relu",
    "block_3_expand_relu",
    "block_6_expand_relu",
    "block_13_expand_relu",
    "block_16_project",
)


def build_mobilenetv2_unet(
    input_shape=(None, None, 3),
    num_classes: int = 1,
    encoder_weights: str | None = "imagenet",
    freeze_encoder: bool = False,
    decoder_filters=(512, 256, 128, 64),
    kernel_size: int = 3,
    dropout_rate: float = 0.0,
    name: str = "mobilenetv2_unet",
) -> keras.Model:
    """Builds a U-Net whose encoder is a MobileNetV2 from `keras.applications`, as in the
    TensorFlow segmentation tutorial: each decoder step is pix2pix's upsample block (a stride-2
    transposed convolution initialised from N(0, 0.02), batch norm, dropout if asked, ReLU),
    then concatenation with the encoder's activation at that size (`MOBILENETV2_SKIPS`).

    Args:
        input_shape: `(height, width, 3)`; known sizes must be divisible by 32.
        num_classes: 1 for binary (one logit), more for one logit per class.
        encoder_weights: `"imagenet"` (downloaded by Keras) or `None` (random initialisation).
        freeze_encoder: Keep the encoder's weights fixed (its batch norm runs in inference mode).
        decoder_filters: Filters of the four decoder steps, deepest first.
        kernel_size: Kernel size of the decoder's transposed convolutions.
        dropout_rate: Dropout after each decoder step (0 disables it).

    Returns:
        A functional `keras.Model` taking images in [0, 1] (rescaled inside to MobileNetV2's
        [-1, 1]) and returning float32 logits at the input's resolution.
    """
    ModelConfig(architecture="mobilenetv2", num_classes=num_classes, kernel_size=kernel_size,
                dropout_rate=dropout_rate, encoder_weights=encoder_weights)
    check_input_shape(input_shape, depth=MOBILENETV2_DEPTH, channels=3)
    if len(decoder_filters) != 4:
        raise ValueError(f"decoder_filters needs 4 values; received {tuple(decoder_filters)}.")

    try:
        with warnings.catch_warnings():
            # Keras warns that the ImageNet weights are those of 224x224 inputs: the encoder is
            # convolutions only, which take any size divisible by 32.
            warnings.filterwarnings("ignore", message="`input_shape` is undefined or non-square",
                                    category=UserWarning)
            backbone = keras.applications.MobileNetV2(
                input_shape=input_shape, include_top=False, weights=encoder_weights
            )
    except Exception as error:  # Keras' download failure is a bare `Exception`
        if encoder_weights is None or "URL fetch failure" not in str(error):
            raise
        raise UsageError(
            "the MobileNetV2 encoder's ImageNet weights could not be downloaded (no internet "
            "here?); download them once where there is (Keras keeps them in ~/.keras/models), "
            "or train with --encoder-weights none.") from None
    encoder = keras.Model(
        backbone.input,
        [backbone.get_layer(layer).output for layer in MOBILENETV2_SKIPS],
        name="encoder",
    )
    encoder.trainable = not freeze_encoder

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_mobilenet_range")(inputs)
    *skips, x = encoder(x)
    for step, (filters, skip) in enumerate(zip(decoder_filters, reversed(skips)), start=1):
        x = keras.layers.Conv2DTranspose(
            filters, kernel_size, strides=2, padding="same", use_bias=False,
            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            name=f"decoder{step}_upsample",
        )(x)
        x = keras.layers.BatchNormalization(name=f"decoder{step}_bn")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"decoder{step}_dropout")(x)
        x = keras.layers.Activation("relu", name=f"decoder{step}_relu")(x)
        x = keras.layers.Concatenate(name=f"decoder{step}_concat")([x, skip])
    logits = keras.layers.Conv2DTranspose(
        num_classes, kernel_size, strides=2, padding="same", dtype="float32", name="head"
    )(x)
    return keras.Model(inputs, logits, name=name)


def check_image_size(config, size, field: str = "data.image_size") -> None:
    """Refuses an image (or crop, `field="data.crop_size"`) size `(height, width)` that the
    model `config` describes cannot take, before any model is built (`check_input_shape`)."""
    depth = MOBILENETV2_DEPTH if config.architecture == "mobilenetv2" else config.depth
    check_input_shape((*size, 3), depth, field=field)


def build_model(config, input_shape=(None, None, 3)) -> keras.Model:
    """Builds the model a `unet.config.ModelConfig` describes (its fields are the builders'
    keyword arguments)."""
    values = dataclasses.asdict(config)
    if values.pop("architecture") == "mobilenetv2":
        names = ("num_classes", "encoder_weights", "freeze_encoder", "kernel_size", "dropout_rate")
        return build_mobilenetv2_unet(input_shape, **{name: values[name] for name in names})
    del values["encoder_weights"], values["freeze_encoder"]
    return build_unet(input_shape, **values)
