"""Explanations of a detector's decision: Grad-CAM heatmaps over its backbone's feature maps."""

from deepguard.explain.gradcam import GradCAM, grad_cam, overlay_heatmap

__all__ = ["GradCAM", "grad_cam", "overlay_heatmap"]
