"""Callbacks with Keras' names and hook signatures (one per module)."""

from cnnkit.training.callbacks.backup_and_restore import BackupAndRestore
from cnnkit.training.callbacks.callback import Callback
from cnnkit.training.callbacks.callback_list import CallbackList
from cnnkit.training.callbacks.csv_logger import CSVLogger
from cnnkit.training.callbacks.early_stopping import EarlyStopping
from cnnkit.training.callbacks.history import History
from cnnkit.training.callbacks.lambda_callback import LambdaCallback
from cnnkit.training.callbacks.learning_rate_scheduler import LearningRateScheduler
from cnnkit.training.callbacks.model_checkpoint import ModelCheckpoint
from cnnkit.training.callbacks.progbar_logger import ProgbarLogger
from cnnkit.training.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from cnnkit.training.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
