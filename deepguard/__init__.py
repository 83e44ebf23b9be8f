"""DeepGuard."""
