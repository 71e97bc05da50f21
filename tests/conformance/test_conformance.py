"""The conformance suite: programs written as keras.io teaches, each run under Keras 3 and under cnnkit in one test
(same source text, the module swapped), comparing parameter counts, shapes, History and callback log keys, evaluate's
structure and, with Keras' initial weights copied into cnnkit, the numbers (1e-5: float32 ulps over a few steps).
"""

import pytest

import cnnkit

from .harness import run_both
from .programs_custom import custom_layers_and_models, custom_metric, transfer_learning, writing_callbacks
from .programs_data import conv_autoencoder, save_and_load, sequence_loader
from .programs_guides import functional_guide, mnist_convnet, sequential_guide, training_builtin

keras = pytest.importorskip("keras")

PROGRAMS = [
    mnist_convnet,
    sequential_guide,
    functional_guide,
    training_builtin,
    writing_callbacks,
    transfer_learning,
    custom_layers_and_models,
    custom_metric,
    sequence_loader,
    conv_autoencoder,
    save_and_load,
]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_program_runs_the_same_under_keras_and_cnnkit(program, tmp_path):
    if program is conv_autoencoder and not hasattr(cnnkit.layers, "Conv2DTranspose"):
        pytest.skip("Conv2DTranspose arrives with the layers-ops branch")
    keras.utils.set_random_seed(0)
    cnnkit.utils.set_random_seed(0)
    run_both(program, keras, cnnkit, tmp_path)
