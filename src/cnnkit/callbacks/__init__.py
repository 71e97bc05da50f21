"""Callbacks with Keras' names and hook signatures (one per module)."""

from cnnkit.callbacks.backup_and_restore import BackupAndRestore
from cnnkit.callbacks.callback import Callback
from cnnkit.callbacks.callback_list import CallbackList
from cnnkit.callbacks.csv_logger import CSVLogger
from cnnkit.callbacks.early_stopping import EarlyStopping
from cnnkit.callbacks.history import History
from cnnkit.callbacks.lambda_callback import LambdaCallback
from cnnkit.callbacks.learning_rate_scheduler import LearningRateScheduler
from cnnkit.callbacks.lr_finder import LRFinder, LRFinderResult
from cnnkit.callbacks.model_checkpoint import ModelCheckpoint
from cnnkit.callbacks.progbar_logger import ProgbarLogger
from cnnkit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from cnnkit.callbacks.tensorboard import TensorBoard
from cnnkit.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "LRFinder",
    "LRFinderResult",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
