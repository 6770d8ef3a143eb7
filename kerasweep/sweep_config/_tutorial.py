"""The sweep of W&B's TensorFlow Sweeps tutorial, as a config."""

from __future__ import annotations

__all__ = ["SWEEP_CONFIG"]

SWEEP_CONFIG: dict = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 5},
    "parameters": {
        "batch_size": {"values": [32, 64, 128, 256]},
        "learning_rate": {"values": [0.01, 0.005, 0.001, 0.0005, 0.0001]},
    },
}
"""The sweep of W&B's TensorFlow Sweeps tutorial: random search, hyperband from epoch 5."""
