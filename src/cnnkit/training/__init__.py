"""Training engine: compile/fit/evaluate/predict, callbacks, checkpoints (see trainer.py)."""
