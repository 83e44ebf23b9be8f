"""Grad-CAM for any DeepGuard detector.

A detector is a chain ``image -> preprocessing -> backbone -> pool -> dropout -> [head] ->
p_fake`` (see `deepguard.models.build_detector`). Grad-CAM (Selvaraju et al., ICCV 2017)
weights each channel of the backbone's last feature map by the mean gradient of the decision
score with respect to it, sums the channels and keeps the positive part: where the map is hot,
more of that region would push the model further towards its decision.

The score is the logit of ``p_fake`` (the pre-sigmoid value), not the probability: a model
that is 0.9999 sure has a vanishing sigmoid gradient, and its heatmap would be noise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

BACKBONE_LAYER = "backbone"
OUTPUT_LAYER = "p_fake"

Target = Literal["predicted", "fake", "real"]


class GradCAM:
    """Split a detector at its nested ``backbone`` model into gradient-ready halves.

    Args:
        model: a detector built by `deepguard.models.build_detector` (or loaded from its
            `.keras` file): a chain of layers with one nested model named ``backbone`` and a
            final ``Dense(1, sigmoid)`` layer named ``p_fake``.

    Raises:
        ValueError: the model has no ``backbone`` layer or no ``p_fake`` output layer.

    Example:
        >>> cam = GradCAM(loaded.model)
        >>> heatmap, p_fake = cam(model_input)      # model_input float32 (S, S, 3) in [0, 255]
    """

    def __init__(self, model):
        import keras

        names = [layer.name for layer in model.layers]
        for required in (BACKBONE_LAYER, OUTPUT_LAYER):
            if required not in names:
                raise ValueError(
                    f"model '{model.name}' has no layer named '{required}' (its layers: "
                    f"{', '.join(names)}); Grad-CAM needs a detector built by "
                    "deepguard.models.build_detector"
                )
        split = names.index(BACKBONE_LAYER)
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        self.model = model
        self._graphs: dict = {}
        self.before = [layer for layer in layers if names.index(layer.name) < split]
        self.backbone = model.get_layer(BACKBONE_LAYER)
        self.after = [layer for layer in layers if names.index(layer.name) > split]
        if self.after[-1].name != OUTPUT_LAYER:
            raise ValueError(
                f"model '{model.name}' ends in layer '{self.after[-1].name}', expected "
                f"'{OUTPUT_LAYER}' last"
            )

    def __call__(self, image: np.ndarray, target: Target = "predicted") -> tuple[np.ndarray, float]:
        """Heatmap of one model input and the model's probability of fake.

        Args:
            image: float32 ``(S, S, 3)`` in ``[0, 255]`` (`deepguard.images.to_model_input`).
            target: explain the predicted class (``"predicted"``), or always ``"fake"`` or
                ``"real"``.

        Returns:
            ``(heatmap, p_fake)``: heatmap float32 ``(h, w)`` in ``[0, 1]`` at the feature
            map's resolution (all zeros when no region supports the decision).
        """
        if target not in ("predicted", "fake", "real"):
            raise ValueError(f"target must be 'predicted', 'fake' or 'real', got {target!r}")
        batch = np.asarray(image, dtype=np.float32)[None]
        cam, p_fake = self._graph(target, batch.shape)(batch)
        cam = cam.numpy()
        peak = float(cam.max())
        heatmap = cam / peak if peak > 0 else np.zeros_like(cam)
        return heatmap.astype(np.float32), float(p_fake)

    def _graph(self, target: Target, shape: tuple[int, ...]):
        """A compiled heatmap function per target and input shape: traced once (a second or
        so), then about 10x faster than running the layers eagerly."""
        import tensorflow as tf

        key = (target, shape)
        if key not in self._graphs:

            @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
            def explain(batch):
                x = batch
                for layer in self.before:
                    x = layer(x, training=False)
                with tf.GradientTape() as tape:
                    features = self.backbone(x, training=False)
                    tape.watch(features)
                    logit = self._logit(features)
                p_fake = tf.sigmoid(logit)[0, 0]
                if target == "predicted":
                    sign = tf.where(p_fake >= 0.5, 1.0, -1.0)
                else:
                    sign = tf.constant(1.0 if target == "fake" else -1.0)
                gradients = tape.gradient(logit, features)
                weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)  # per channel
                cam = tf.nn.relu(sign * tf.reduce_sum(weights * features, axis=-1))[0]
                return cam, p_fake

            self._graphs[key] = explain
        return self._graphs[key]

    def _logit(self, features):
        import tensorflow as tf

        x = features
        for layer in self.after[:-1]:
            x = layer(x, training=False)
        output = self.after[-1]
        # The pre-sigmoid value of Dense(1, sigmoid): the same weights, no saturation.
        return tf.matmul(tf.cast(x, output.kernel.dtype), output.kernel) + output.bias


def grad_cam(model, image: np.ndarray, target: Target = "predicted") -> tuple[np.ndarray, float]:
    """One-off `GradCAM(model)(image, target)`; keep a `GradCAM` for repeated calls."""
    return GradCAM(model)(image, target)


def overlay_heatmap(
    rgb: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, colormap: str = "inferno"
) -> np.ndarray:
    """Draw a ``[0, 1]`` heatmap over an RGB image, upsampled smoothly to the image's size.

    Args:
        rgb: uint8 ``(H, W, 3)`` image.
        heatmap: float ``(h, w)`` in ``[0, 1]``.
        alpha: opacity of the heatmap, 0 (image only) to 1 (heatmap only).
        colormap: a matplotlib colormap name.

    Returns:
        uint8 ``(H, W, 3)``.
    """
    from matplotlib import colormaps
    from PIL import Image

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = rgb.shape[:2]
    resized = Image.fromarray(np.asarray(heatmap, dtype=np.float32)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    colours = colormaps[colormap](np.clip(np.asarray(resized), 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colours
    return np.clip(blended.round(), 0, 255).astype(np.uint8)
