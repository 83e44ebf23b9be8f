"""Input scaling for each backbone, as a layer inside the saved model.

Every DeepGuard model takes float32 RGB in [0, 255]. The scaling a backbone was designed for
lives in `BackbonePreprocessing`, so training, the API and the app can never disagree.

Which mode each keras.applications backbone expects (see each module's `preprocess_input`):

- ``tf``: [-1, 1] (``x / 127.5 - 1``). Xception, MobileNet, MobileNetV2, InceptionV3.
- ``caffe``: RGB -> BGR, ImageNet channel mean subtracted, no scaling. VGG16, VGG19, ResNet50.
- ``torch``: [0, 1], then ImageNet mean / std per channel. DenseNet.
- ``none``: unchanged, because the backbone rescales inside itself: EfficientNet (Rescaling
  and Normalization layers), MobileNetV3 (``include_preprocessing=True``), ConvNeXt.
"""

from __future__ import annotations

import keras
from keras import ops

from deepguard.errors import ConfigError

# ImageNet channel statistics as keras.applications.imagenet_utils uses them.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # pixel units, B, G, R order
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)  # fraction of 255
TORCH_STD_RGB = (0.229, 0.224, 0.225)  # fraction of 255

PREPROCESSING_MODES = ("tf", "caffe", "torch", "none")


@keras.saving.register_keras_serializable(package="deepguard")
class BackbonePreprocessing(keras.layers.Layer):
    """Scale float32 RGB images in [0, 255] the way a backbone expects.

    Args:
        mode: one of ``"tf"``, ``"caffe"``, ``"torch"``, ``"none"`` (see the module table).
        **kwargs: forwarded to `keras.layers.Layer` (``name``, ``dtype`` ...).

    Example:
        >>> layer = BackbonePreprocessing("tf")
        >>> layer(np.full((1, 2, 2, 3), 255.0, "float32"))  # all ones
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ConfigError(
                f"unknown backbone preprocessing '{mode}'; available: "
                f"{', '.join(PREPROCESSING_MODES)} (set `preprocessing` in the backbone config)"
            )
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            bgr = ops.flip(x, axis=-1)
            return bgr - ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=self.compute_dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(TORCH_MEAN_RGB, dtype=self.compute_dtype)
            std = ops.convert_to_tensor(TORCH_STD_RGB, dtype=self.compute_dtype)
            return (x / 255.0 - mean) / std
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
