"""When a from-scratch learning run has shown what it had to show, and may stop."""

from __future__ import annotations

import keras

# Validation ROC AUC that only a model that learned reaches (chance: 0.5; a constant answer
# gives exactly 0.5). The small CNN reaches about 0.9 at 64 px.
LEARNED_AUC = 0.7


class StopOnceLearned(keras.callbacks.Callback):
    """Ends `fit` after the first epoch whose validation ROC AUC is above `threshold`.

    The backbones' learning test asks one question: does the documented run get a model
    that answers better than chance on validation? Once an epoch's validation pass says yes,
    the remaining epochs cannot change the answer, and on 2 cores they cost minutes. A
    backbone that never learns (the constant answer this test exists for) still trains all
    its epochs and fails.
    """

    def __init__(self, threshold: float = LEARNED_AUC, monitor: str = "val_auc"):
        super().__init__()
        self.threshold = threshold
        self.monitor = monitor
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.threshold:
            self.stopped_epoch = epoch
            self.model.stop_training = True
