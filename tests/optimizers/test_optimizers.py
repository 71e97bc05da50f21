"""cnnkit optimizers against Keras 3 (PyTorch backend): same start, same gradients, same weights."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import cnnkit.optimizers as co
from cnnkit.optimizers import schedules as cs

keras = pytest.importorskip("keras")

SHAPES = [(3, 3, 2, 4), (4,), (10, 5), (1,)]
STEPS = 10
# Tolerance: cnnkit fuses the update (lerp, addcmul, addcdiv) where Keras' torch backend issues separate mul/add/div
# kernels, and it computes scalar factors in float64 rather than float32. Each step can therefore round a weight
# differently by 1 ulp (<= 1.2e-7 for |w| < 1, the range used here); over 10 steps that stays below 1e-6. Observed
# differences are 0 for SGD/Adagrad and a few ulps for Adam.
ATOL = 1e-6


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.uniform(-1, 1, s).astype("float32") for s in SHAPES]
    grads = [[rng.standard_normal(s).astype("float32") for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _run_keras(opt, init, grads):
    variables = [keras.Variable(x) for x in init]
    for gs in grads:
        opt.apply_gradients(zip([torch.tensor(g) for g in gs], variables, strict=True))
    return [np.asarray(v.numpy()) for v in variables]


def _params(init):
    return [torch.nn.Parameter(torch.tensor(x)) for x in init]


def _run_cnnkit(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy().copy() for p in params]


CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"momentum": 0.5, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"weight_decay": 0.05}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9, "centered": True, "rho": 0.8}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5}),
    ("Adam", {"clipnorm": 1.0}),
    ("Nadam", {}),
    ("Nadam", {"learning_rate": 0.01, "beta_1": 0.8}),
    ("Adamax", {}),
    ("Adamax", {"learning_rate": 0.05, "beta_2": 0.9}),
    ("Adadelta", {}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "clipvalue": 0.3}),
    ("RMSprop", {"global_clipnorm": 0.5}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_keras(name, kwargs):
    init, grads = _problem()
    expected = _run_keras(getattr(keras.optimizers, name)(**kwargs), init, grads)
    opt = getattr(co, name)(**kwargs)
    params = _params(init)
    opt.build(params)
    got = _run_cnnkit(opt, params, grads)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=ATOL)
    assert opt.iterations == STEPS


SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [2, 5], "values": [0.1, 0.05, 0.01]}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 6, "warmup_target": 0.1, "warmup_steps": 3}),
]


@pytest.mark.parametrize(("schedule", "kwargs"), SCHEDULES, ids=[s for s, _ in SCHEDULES])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_schedule_as_learning_rate_matches_keras(name, schedule, kwargs):
    init, grads = _problem(1)
    extra = {"momentum": 0.9} if name == "SGD" else {"weight_decay": 0.01}
    k_opt = getattr(keras.optimizers, name)(getattr(keras.optimizers.schedules, schedule)(**kwargs), **extra)
    expected = _run_keras(k_opt, init, grads)
    opt = getattr(co, name)(getattr(cs, schedule)(**kwargs), **extra)
    params = _params(init)
    opt.build(params)
    got = _run_cnnkit(opt, params, grads)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", {"momentum": 0.9, "nesterov": True}), ("Adam", {"amsgrad": True}), ("AdamW", {}),
     ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}), ("Nadam", {}), ("Adamax", {}),
     ("Adadelta", {})],
)  # fmt: skip
def test_state_dict_round_trip_continues_bit_identically(tmp_path, name, kwargs):
    init, grads = _problem(2)
    a_params = _params(init)
    a = getattr(co, name)(cs.ExponentialDecay(0.01, 4, 0.5), **kwargs)
    a.build(a_params)
    _run_cnnkit(a, a_params, grads[:5])

    # Through a real checkpoint: tensors to safetensors, the rest to JSON.
    state = a.state_dict()
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    save_file(tensors, str(tmp_path / "opt.safetensors"))
    (tmp_path / "opt.json").write_text(json.dumps({k: v for k, v in state.items() if k not in tensors}))
    loaded = {**load_file(str(tmp_path / "opt.safetensors")), **json.loads((tmp_path / "opt.json").read_text())}

    b_params = [torch.nn.Parameter(p.detach().clone()) for p in a_params]
    b = getattr(co, name)(cs.ExponentialDecay(0.01, 4, 0.5), **kwargs)
    b.build(b_params)
    b.load_state_dict(loaded)
    assert b.iterations == a.iterations == 5
    got_a = _run_cnnkit(a, a_params, grads[5:])
    got_b = _run_cnnkit(b, b_params, grads[5:])
    for x, y in zip(got_a, got_b, strict=True):
        assert np.array_equal(x, y)


def test_state_dict_keeps_constant_learning_rate_and_is_a_copy():
    params = _params(_problem()[0])
    opt = co.Adam(0.01)
    opt.build(params)
    state = opt.state_dict()
    assert state["learning_rate"] == 0.01 and state["iterations"] == 0 and state["optimizer"] == "Adam"
    assert sorted(k for k in state if "." in k) == sorted(
        [f"momentum.{i}" for i in range(len(SHAPES))] + [f"velocity.{i}" for i in range(len(SHAPES))]
    )
    state["momentum.0"].add_(1.0)
    assert float(opt.variables[0].abs().sum()) == 0.0


def test_load_state_dict_errors():
    params = _params(_problem()[0])
    opt = co.Adam()
    with pytest.raises(ValueError, match=r"^Optimizer 'adam(_\d+)?' is not built, so it has no state to load into\."):
        opt.load_state_dict({})
    opt.build(params)
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(co.SGD(momentum=0.9).state_dict() | {"optimizer": "SGD"})
    assert str(err.value) == (
        "The state belongs to another optimizer. Expected state of Adam. Received: optimizer='SGD'. "
        "Load it into a SGD optimizer."
    )
    state = opt.state_dict()
    del state["velocity.1"]
    with pytest.raises(ValueError, match=r"missing=\['velocity.1'\], unexpected=\[\]"):
        opt.load_state_dict(state)


def test_parameters_without_gradient_are_left_alone():
    init, grads = _problem()
    params = _params(init)
    opt = co.Adam(0.1)
    opt.build(params)
    for p, g in zip(params[1:], grads[0][1:], strict=True):
        p.grad = torch.tensor(g)
    opt.step()
    assert torch.equal(params[0].detach(), torch.tensor(init[0]))
    assert float(opt.state_dict()["momentum.0"].abs().sum()) == 0.0
    assert not torch.equal(params[1].detach(), torch.tensor(init[1]))
    for p in params:
        p.grad = None
    with pytest.raises(ValueError, match=r"^No gradients provided for any variable\."):
        opt.step()


def test_apply_gradients_keras_form_and_clip_keeps_raw_grad():
    init, grads = _problem()
    params = _params(init)
    opt = co.SGD(0.1, clipvalue=0.1)
    opt.apply_gradients(zip([torch.tensor(g) for g in grads[0]], params, strict=True))  # builds on first use
    assert opt.built and opt.iterations == 1
    params[0].grad = torch.full(SHAPES[0], 5.0)
    for p in params[1:]:
        p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(params[0].grad, torch.full(SHAPES[0], 5.0))


def test_channels_last_parameters():
    w = torch.nn.Parameter(torch.randn(8, 3, 3, 3).to(memory_format=torch.channels_last))
    opt = co.Adam()
    opt.build([w])
    assert opt.variables[0].is_contiguous(memory_format=torch.channels_last)
    w.grad = torch.randn_like(w)
    opt.step()
    assert opt.state_dict()["momentum.0"].is_contiguous()


@pytest.mark.parametrize("kwargs", [{}, {"amsgrad": True}, {"weight_decay": 0.1}])
@pytest.mark.parametrize("grad_layout", ["same", "contiguous"])
def test_fused_adam_equals_the_foreach_update(monkeypatch, kwargs, grad_layout):
    """Adam on CPU runs torch's fused kernel when parameter, gradient and slots share one layout, else the six
    foreach passes; both give the same weights (to an ulp per step: the kernel divides after scaling m)."""
    from cnnkit.optimizers import adam

    rng = np.random.default_rng(1)
    shapes = [(8, 3, 3, 3), (8,), (40, 7), ()]
    init = [torch.tensor(rng.uniform(-1, 1, s).astype("float32")) for s in shapes]
    init[0] = init[0].to(memory_format=torch.channels_last)  # a conv kernel as cnnkit lays it out
    grads = [[torch.tensor(rng.standard_normal(s).astype("float32")) for s in shapes] for _ in range(STEPS)]
    if grad_layout == "same":
        grads = [[g.to(memory_format=torch.channels_last) if g.dim() == 4 else g for g in gs] for gs in grads]

    def run(fuse_allowed):
        params = [torch.nn.Parameter(x.clone(memory_format=torch.preserve_format)) for x in init]
        opt = co.Adam(learning_rate=0.05, **kwargs)
        opt.build(params)
        fused_steps = 0
        for gs in grads:
            for p, g in zip(params, gs, strict=True):
                p.grad = g.clone(memory_format=torch.preserve_format)
            slots = [opt._slots[n] for n in opt._slot_names]
            fused_steps += adam._can_fuse(params, [p.grad for p in params], *slots)
            with monkeypatch.context() as m:
                if not fuse_allowed:
                    m.setattr(adam, "_can_fuse", lambda *groups: False)
                opt.step()
        return params, fused_steps

    fused, n_fused = run(True)
    plain, n_plain = run(False)
    assert n_fused == n_plain == (STEPS if grad_layout == "same" else 0)  # a layout mismatch never fuses
    for a, b in zip(fused, plain, strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=ATOL)


def test_learning_rate_get_set():
    opt = co.Adam(0.01)
    assert opt.learning_rate == 0.01
    opt.learning_rate = 0.005  # what ReduceLROnPlateau does
    assert opt.learning_rate == 0.005
    opt.learning_rate = np.float32(0.25)
    assert opt.learning_rate == 0.25
    # Keras-variable calls seen in tutorials.
    assert opt.learning_rate.numpy() == np.float32(0.25) and opt.learning_rate.numpy().dtype == np.float32
    opt.learning_rate.assign(0.125)
    assert opt.learning_rate == 0.125 and json.dumps(opt.learning_rate) == "0.125"
    assert opt.get_config()["learning_rate"] == 0.125 and type(opt.get_config()["learning_rate"]) is float
    scheduled = co.SGD(cs.PiecewiseConstantDecay([0], [1.0, 0.5]))
    assert scheduled.learning_rate == 1.0
    scheduled.iterations = 1
    assert scheduled.learning_rate == 0.5
    with pytest.raises(TypeError) as err:
        scheduled.learning_rate = 0.1
    assert str(err.value) == (
        "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` constructor "
        "argument, hence its learning rate is not settable. Expected a schedule. Received: learning_rate=0.1. "
        "Instantiate the optimizer with a float `learning_rate` to make it settable."
    )


def test_defaults_match_keras():
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "Adadelta"]:
        ours, theirs = getattr(co, name)().get_config(), getattr(keras.optimizers, name)().get_config()
        for key, value in ours.items():
            if isinstance(value, float):  # Keras reports its float32 learning-rate variable
                assert value == pytest.approx(theirs[key], rel=1e-6), (name, key)
            elif key != "name":
                assert value == theirs[key], (name, key)


def test_config_round_trip_with_schedule():
    opt = co.Adam(cs.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=10), amsgrad=True, clipnorm=2.0)
    config = json.loads(json.dumps(opt.get_config()))
    again = co.Adam.from_config(config)
    assert again.get_config() == config
    assert isinstance(again._learning_rate, cs.CosineDecay)


def test_from_keras_config():
    config = keras.optimizers.Adam(learning_rate=0.5, amsgrad=True).get_config()
    opt = co.Adam.from_config(config)
    assert opt.amsgrad and opt.learning_rate == pytest.approx(0.5)


def test_get():
    assert isinstance(co.get("adam"), co.Adam)
    assert isinstance(co.get("RMSprop"), co.RMSprop)
    assert isinstance(co.get({"class_name": "SGD", "config": {"momentum": 0.9}}), co.SGD)
    opt = co.AdamW()
    assert co.get(opt) is opt
    with pytest.raises(ValueError) as err:
        co.get("adamx")
    assert str(err.value) == (
        "Could not interpret optimizer identifier. Expected one of 'adadelta', 'adagrad', 'adam', 'adamax', "
        "'adamw', 'nadam', 'rmsprop', 'sgd', "
        "an Optimizer instance or a config dict {'class_name': ..., 'config': ...}. Received: optimizer='adamx'. "
        "Did you mean 'adamax'? Or pass an optimizer object such as cnnkit.optimizers.Adam(learning_rate=1e-3)."
    )
    with pytest.raises(TypeError, match="Could not interpret optimizer identifier"):
        co.get(3)


def test_argument_errors():
    with pytest.raises(ValueError) as err:
        co.SGD(clipnorm=1.0, clipvalue=1.0)
    assert str(err.value) == (
        "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Expected at most one. "
        "Received: clipnorm=1.0, clipvalue=1.0, global_clipnorm=None. Keep one of them."
    )
    with pytest.raises(TypeError) as err:
        co.Adam(lr=0.1)
    assert str(err.value) == (
        "Argument(s) not recognized by Adam. Expected Keras optimizer arguments. Received: {'lr': 0.1}. "
        "Remove or rename them."
    )
    with pytest.raises(ValueError, match=r"^Argument `weight_decay` must be a float\."):
        co.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match=r"^Argument `momentum` must be in the range \[0, 1\]\."):
        co.SGD(momentum=1.5)
    with pytest.raises(ValueError, match=r"^Argument `use_ema` is not supported by cnnkit optimizers yet\."):
        co.Adam(use_ema=True)
    with pytest.raises(ValueError, match=r"is not built\. Expected build\(params\) before step\(\)\."):
        co.SGD().step()
    with pytest.raises(TypeError, match=r"^Argument `learning_rate` should be a float"):
        co.SGD(learning_rate="fast")


def test_build_twice():
    params = _params(_problem()[0])
    opt = co.SGD(momentum=0.9)
    opt.build(params)
    opt.build(params)  # same parameters: a no-op
    with pytest.raises(ValueError, match=r"is already built on 4 parameters"):
        opt.build(params[:2])
    with pytest.raises(ValueError, match=r"received the same parameter twice"):
        co.SGD().build([params[0], params[0]])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_step_does_not_sync_with_the_device(name):
    params = [torch.nn.Parameter(torch.randn(s, device="cuda")) for s in SHAPES]
    opt = getattr(co, name)(cs.ExponentialDecay(0.1, 10, 0.9), clipnorm=1.0)
    opt.build(params)
    for p in params:
        p.grad = torch.randn_like(p)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_exclude_from_weight_decay_matches_keras():
    init, grads = _problem(3)
    k_vars = [keras.Variable(x) for x in init]
    k_opt = keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.1)
    k_opt.exclude_from_weight_decay(var_list=[k_vars[1], k_vars[3]])
    for gs in grads:
        k_opt.apply_gradients(zip([torch.tensor(g) for g in gs], k_vars, strict=True))
    params = _params(init)
    opt = co.AdamW(learning_rate=0.05, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_list=[params[1], params[3]])
    opt.build(params)
    got = _run_cnnkit(opt, params, grads)
    for v, g in zip(k_vars, got, strict=True):
        np.testing.assert_allclose(g, np.asarray(v.numpy()), rtol=0, atol=ATOL)
