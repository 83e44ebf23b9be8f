"""Grad-CAM for any convolutional detector, found from the model's graph alone.

Grad-CAM (Selvaraju et al., ICCV 2017) weights each channel of a feature map by the mean
gradient of the decision score with respect to it, sums the channels and keeps the positive
part: where the map is hot, more of that region would push the model further towards its
decision.

Which feature map: the 4-D maps the classifier head reads, found by walking the graph back
from the output until the tensors become 4-D (batch, height, width, channels). For a
DeepGuard detector that is the nested backbone's output (``image -> preprocessing ->
backbone -> pool -> ... -> p_fake``); for a multi-scale head (``backbone.feature_layers``)
it is every tapped map; for a new backbone it is whatever its last spatial output is. No
table per architecture: a model is explainable when some 4-D map, computed by layers with
weights, feeds its head, and `NotExplainableError` says why when not.

Several maps (multi-scale heads) give one heatmap: each map's signed Grad-CAM is resized to
the finest map and weighted by its number of cells, so every map counts by the share of the
logit it carries per unit of image area (for a pooled linear head, a map's Grad-CAM summed
over its cells is its contribution to the logit), then the positive part is kept.

The score is the logit of ``p_fake`` (the pre-sigmoid value), not the probability: a model
that is 0.9999 sure has a vanishing sigmoid gradient, and its heatmap would be noise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from deepguard.errors import DeepGuardError

Target = Literal["predicted", "fake", "real"]
SPATIAL_RANK = 4  # (batch, height, width, channels)
# Probabilities are clipped this far from 0 and 1 before taking their logit (float32).
PROBABILITY_EPSILON = 1e-7


class NotExplainableError(DeepGuardError, ValueError):
    """The model has no feature map Grad-CAM can explain (the reason is in the message)."""


class GradCAM:
    """Heatmaps of a binary detector's decision over the feature maps its head reads.

    Args:
        model: a Keras functional model with one output of shape ``(batch, 1)``, the
            probability of fake: any detector from `deepguard.models.build_detector` (or
            loaded from its `.keras` file), single- or multi-scale, whatever its backbone.

    Raises:
        NotExplainableError: the output is not ``(batch, 1)``, or no 4-D feature map computed
            by layers with weights feeds the head (e.g. a backbone that pools inside itself).

    Example:
        >>> cam = GradCAM(loaded.model)
        >>> heatmap, p_fake = cam(model_input)      # model_input float32 (S, S, 3) in [0, 255]
    """

    def __init__(self, model):
        import keras

        output = _single_output(model)
        maps = [tensor for tensor in _head_feature_maps(output) if _computed_with_weights(tensor)]
        if not maps:
            raise NotExplainableError(
                f"model '{model.name}' has no 4-D feature map (batch, height, width, "
                "channels) computed by layers with weights that feeds its classifier, so "
                "Grad-CAM has nothing to weigh; it explains convolutional detectors whose "
                "backbone returns its spatial features (pooling=None, as build_detector builds)"
            )
        output_layer = _producer(output).operation
        self._sigmoid_dense = _is_sigmoid_dense(output_layer)
        # The logit comes from the output layer's input and weights when it is
        # Dense(1, sigmoid); otherwise from the probability itself.
        score_input = _producer(output).input_tensors[0] if self._sigmoid_dense else output
        self.model = model
        self.feature_map_shapes = [tuple(tensor.shape[1:3]) for tensor in maps]
        self._output_layer = output_layer
        self._explained = keras.Model(model.inputs, [*maps, score_input], name="grad_cam")
        self._graphs: dict = {}

    def __call__(self, image: np.ndarray, target: Target = "predicted") -> tuple[np.ndarray, float]:
        """Heatmap of one model input and the model's probability of fake.

        Args:
            image: float32 ``(S, S, 3)`` in ``[0, 255]`` (`deepguard.images.to_model_input`).
            target: explain the predicted class (``"predicted"``), or always ``"fake"`` or
                ``"real"``.

        Returns:
            ``(heatmap, p_fake)``: heatmap float32 ``(h, w)`` in ``[0, 1]`` at the finest
            feature map's resolution (all zeros when no region supports the decision).
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
                with tf.GradientTape() as tape:
                    *maps, score_input = self._explained(batch, training=False)
                    logit = self._logit(score_input)
                gradients = tape.gradient(logit, maps)
                p_fake = tf.sigmoid(logit)[0, 0]
                if target == "predicted":
                    sign = tf.where(p_fake >= 0.5, 1.0, -1.0)
                else:
                    sign = tf.constant(1.0 if target == "fake" else -1.0)
                return tf.nn.relu(sign * _combined_cam(maps, gradients))[0], p_fake

            self._graphs[key] = explain
        return self._graphs[key]

    def _logit(self, score_input):
        import tensorflow as tf

        if self._sigmoid_dense:
            # The pre-sigmoid value of Dense(1, sigmoid): the same weights, no saturation.
            kernel = self._output_layer.kernel
            return tf.matmul(tf.cast(score_input, kernel.dtype), kernel) + self._output_layer.bias
        p = tf.clip_by_value(
            tf.cast(score_input, tf.float32), PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON
        )
        return tf.math.log(p) - tf.math.log1p(-p)


def _combined_cam(maps, gradients):
    """Signed Grad-CAM of every map, resized to the finest one and weighted by its cells."""
    import tensorflow as tf

    height, width = max((tuple(m.shape[1:3]) for m in maps), key=lambda hw: hw[0] * hw[1])
    total = None
    for feature_map, gradient in zip(maps, gradients, strict=True):
        feature_map = tf.cast(feature_map, tf.float32)
        channel_weights = tf.reduce_mean(tf.cast(gradient, tf.float32), axis=(1, 2), keepdims=True)
        cam = tf.reduce_sum(channel_weights * feature_map, axis=-1, keepdims=True)
        cells = int(feature_map.shape[1]) * int(feature_map.shape[2])
        if tuple(feature_map.shape[1:3]) != (height, width):
            cam = tf.image.resize(cam, (height, width), method="bilinear")
        total = cam * cells if total is None else total + cam * cells
    return total[..., 0]


# Keras has no public graph-walking API: a tensor's producing layer call ("node") is found
# through `_keras_history` and the layer's `_inbound_nodes`, as keras.utils.plot_model does.
def _producer(tensor):
    """The node (layer call) that computed `tensor`, or None for a model input."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    node = history.operation._inbound_nodes[history.node_index]
    return None if node.is_input else node


def _single_output(model):
    outputs = list(model.outputs)
    if len(outputs) != 1 or tuple(outputs[0].shape[1:]) != (1,):
        shapes = ", ".join(str(tuple(o.shape)) for o in outputs)
        raise NotExplainableError(
            f"model '{model.name}' has outputs {shapes}; Grad-CAM explains binary detectors "
            "with one (batch, 1) output, the probability of fake"
        )
    return outputs[0]


def _head_feature_maps(output) -> list:
    """The 4-D tensors the head reads: walking back from the output, the first 4-D ones."""
    found: list = []
    seen: set[int] = set()
    pending = [output]
    while pending:
        node = _producer(pending.pop())
        for parent in node.input_tensors if node is not None else ():
            if id(parent) in seen:
                continue
            seen.add(id(parent))
            (found if len(parent.shape) == SPATIAL_RANK else pending).append(parent)
    # Finest first, so heatmaps and their order do not depend on the walk.
    return sorted(found, key=lambda t: -int(t.shape[1] or 0) * int(t.shape[2] or 0))


def _computed_with_weights(tensor) -> bool:
    """Whether a layer with weights lies between the model's input and `tensor` (a feature
    map, not the image after fixed preprocessing)."""
    pending, seen = [tensor], set()
    while pending:
        node = _producer(pending.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.operation.weights:
            return True
        pending.extend(node.input_tensors)
    return False


def _is_sigmoid_dense(layer) -> bool:
    import keras

    return (
        isinstance(layer, keras.layers.Dense)
        and keras.activations.serialize(layer.activation) == "sigmoid"
    )


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
