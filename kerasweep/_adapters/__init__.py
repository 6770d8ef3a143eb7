"""Every use of a library's private API, in one module per library (keras, tensorflow, wandb)."""
