"""Small channels-last torch models with a ``(x, training)`` call, mirroring Keras layers, for the training tests.

Weights are copied from/to Keras layouts (conv kernel (kh, kw, in, out), dense kernel (in, out)) so the same model
can be trained in Keras 3 and here from identical initial weights.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class TinyCNN(torch.nn.Module):
    """Conv2D(filters, 3) relu -> MaxPooling2D(2) -> Flatten -> Dense(units, out_activation): channels-last input."""

    def __init__(self, input_shape=(8, 8, 3), filters=4, units=1, activation="sigmoid", dropout=0.0):
        super().__init__()
        h, w, c = input_shape
        self.conv_kernel = torch.nn.Parameter(torch.randn(filters, c, 3, 3) * 0.3)
        self.conv_bias = torch.nn.Parameter(torch.zeros(filters))
        flat = ((h - 2) // 2) * ((w - 2) // 2) * filters
        self.dense_kernel = torch.nn.Parameter(torch.randn(flat, units) * 0.1)
        self.dense_bias = torch.nn.Parameter(torch.zeros(units))
        self.activation, self.dropout = activation, dropout
        self.built = True
        self.losses = []

    def forward(self, x, training=False):
        x = torch.as_tensor(x)
        y = F.conv2d(x.permute(0, 3, 1, 2), self.conv_kernel, self.conv_bias).relu()
        y = F.max_pool2d(y, 2).permute(0, 2, 3, 1).flatten(1)  # (H, W, C) order as Keras' Flatten
        if self.dropout and training:
            y = F.dropout(y, self.dropout, training=True)
        y = y @ self.dense_kernel + self.dense_bias
        return torch.sigmoid(y) if self.activation == "sigmoid" else torch.softmax(y, -1)

    def get_weights(self):
        return [
            self.conv_kernel.detach().permute(2, 3, 1, 0).numpy().copy(),
            self.conv_bias.detach().numpy().copy(),
            self.dense_kernel.detach().numpy().copy(),
            self.dense_bias.detach().numpy().copy(),
        ]

    def set_weights(self, weights):
        with torch.no_grad():
            self.conv_kernel.copy_(torch.from_numpy(np.transpose(weights[0], (3, 2, 0, 1))))
            self.conv_bias.copy_(torch.from_numpy(weights[1]))
            self.dense_kernel.copy_(torch.from_numpy(weights[2]))
            self.dense_bias.copy_(torch.from_numpy(weights[3]))


def keras_tiny_cnn(input_shape=(8, 8, 3), filters=4, units=1, activation="sigmoid"):
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(filters, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation=activation),
        ]
    )


def trainer_for(model, **compile_kwargs):
    from cnnkit.training.trainer import Trainer

    trainer = Trainer(model)
    trainer.compile(**compile_kwargs)
    return trainer
