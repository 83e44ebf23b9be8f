"""Explanations of a detector's decision: Grad-CAM heatmaps over the feature maps its head reads."""

from deepguard.explain.gradcam import GradCAM, NotExplainableError, grad_cam, overlay_heatmap

__all__ = ["GradCAM", "NotExplainableError", "grad_cam", "overlay_heatmap"]
