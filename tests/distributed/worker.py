"""One training run for the distributed tests: launched by torchrun with 2 processes, or run plainly as 1.

python worker.py OUT [--kill-rank R --kill-step S] : trains a small CNN (no Dropout) on fixed data with
BackupAndRestore, CSVLogger and ModelCheckpoint in OUT, then predicts; each rank writes its weights, History and
predictions to OUT/rank<R>.* (test output, not the run's files).
"""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

import cnnkit
from cnnkit import callbacks, layers, optimizers, utils
from cnnkit.distribution import get_rank

out = Path(sys.argv[1])
kill_rank = int(sys.argv[sys.argv.index("--kill-rank") + 1]) if "--kill-rank" in sys.argv else -1
kill_step = int(sys.argv[sys.argv.index("--kill-step") + 1]) if "--kill-step" in sys.argv else -1
restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
writes: list[str] = []  # every file this process opens for writing under OUT (an audit hook sees every open)


def audit(event, args):
    if (
        event == "open"
        and isinstance(args[0], str)
        and args[0].startswith(str(out))
        and args[1] not in (None, "r", "rb")
    ):
        writes.append(os.path.relpath(args[0], out))
    elif event == "os.rename" and str(args[1]).startswith(str(out)):
        writes.append(os.path.relpath(str(args[1]), out))


sys.addaudithook(audit)
torch.set_num_threads(1)
utils.set_random_seed(7)
rng = np.random.default_rng(0)
x = rng.random((70, 8, 8, 3), dtype=np.float32)
y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64") + (x[:, 0, 0, 0] > 0.5)
model = cnnkit.Sequential(
    [
        layers.Input((8, 8, 3)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.BatchNormalization(synchronized=True),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ]
)
model.compile(
    optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu"
)


def maybe_die(batch, logs):
    if get_rank() == kill_rank and not restarted and model.trainer.global_step == kill_step:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-epoch, after the backup of this step


history = model.fit(
    x,
    y,
    batch_size=16,  # the global batch: 70 rows -> 4 batches of 16 and one of 6, split across the replicas
    epochs=3,
    validation_split=0.2,
    verbose=0,
    callbacks=[
        callbacks.CSVLogger(str(out / "history.csv")),
        callbacks.ModelCheckpoint(str(out / "ckpt-{epoch}.weights.safetensors"), save_weights_only=True),
        callbacks.BackupAndRestore(str(out / "backup"), save_freq=1),
        callbacks.LambdaCallback(on_train_batch_end=maybe_die),
    ],
)
predictions = model.predict(x[:37], batch_size=10, verbose=0)
evaluation = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
rank = get_rank()
save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
np.save(out / f"rank{rank}.predict.npy", predictions)
result = {"history": history.history, "evaluate": evaluation, "writes": sorted(set(writes)), "restarted": restarted}
(out / f"rank{rank}.json").write_text(json.dumps(result))
