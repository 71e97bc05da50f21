"""`--budget`: the plan from measured speed, the deadline guard, and a real run that ends within its budget."""

import json
import time

import pytest

from cnnkit.pipeline import TrainConfig
from cnnkit.pipeline.budget import BudgetPlan, Deadline, parse_budget, plan_budget, train_with_budget
from cnnkit.pipeline.inspect import DataSummary


def test_parse_budget():
    assert parse_budget("5m") == 300 and parse_budget("2.5m") == 150 and parse_budget("90s") == 90
    assert parse_budget("1h") == 3600 and parse_budget("1m30s") == 90 and parse_budget("45") == 45
    with pytest.raises(ValueError, match=r"^Cannot read the time budget\. Expected a duration such as 5m, 2\.5m, 90s "
                       r"or 1h\. Received: --budget five\. Write minutes with m and seconds with s\.$"):  # fmt: skip
        parse_budget("five")
    with pytest.raises(ValueError, match=r"^The time budget must be positive"):
        parse_budget("0s")


def test_plan_text():
    plan = BudgetPlan("ResNetS", 28, 7, 300, 280, 1e-3, 1e-4, 10)
    assert plan.describe() == "ResNet-S at 28 px, 7 epochs, about 4 min 40 s"
    assert (
        BudgetPlan("tutorial", 32, 1, 60, 59.6, 1e-3, 1e-4, 5).describe()
        == "the tutorial CNN at 32 px, 1 epoch, about 1 min"
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from cnnkit.datasets import fashion_mnist, to_folder

    (x, y), _ = fashion_mnist.load_data()
    root = tmp_path_factory.mktemp("fm_budget")
    to_folder(x, y, root, class_names=[f"c{i}" for i in range(10)], classes=[0, 1, 7], max_per_class=100, verbose=False)
    return root


def test_plan_takes_the_strongest_model_that_gets_its_epochs(folder):
    summary = DataSummary(str(folder), ["a", "b", "c"], {"a": 100, "b": 100, "c": 100}, (28, 28), True)
    speeds = {"ResNetM": (0.04, 0.004), "ResNetS": (0.01, 0.001), "tutorial": (0.002, 0.0002)}
    cfg = TrainConfig(str(folder), "unused", batch_size=32, tta=True)
    # 240 training images: ResNetM needs 9.6 s + 0.24 s + 0.5 s an epoch, ResNetS 2.4 + 0.06 + 0.5.
    plan = plan_budget(cfg, 200, summary, measure=lambda name, *a: speeds[name])
    assert plan.model == "ResNetM" and plan.image_size == 28
    left = 200 - (plan.expected_s - plan.epochs * (240 * 0.04 * 1.15 + 60 * 0.004 + 0.5))
    assert plan.epochs == int(left // (240 * 0.04 * 1.15 + 60 * 0.004 + 0.5)) and plan.expected_s <= 200
    plan = plan_budget(cfg, 60, summary, measure=lambda name, *a: speeds[name])
    assert plan.model == "ResNetS" and plan.epochs >= 4 and plan.expected_s <= 60


def test_deadline_stops_at_the_batch_that_would_overrun():
    class Model:
        stop_training = False

    now = [0.0]
    guard = Deadline(10.0, clock=lambda: now[0])
    guard.set_model(Model())
    for t in (1.0, 3.0, 5.0, 7.0):
        now[0] = t
        guard.on_train_batch_end(0)
        assert not guard.model.stop_training
    now[0] = 9.0  # the next 2 s batch would end at 11 s
    guard.on_train_batch_end(0)
    assert guard.model.stop_training and guard.stopped_early


@pytest.mark.slow
def test_a_60_second_budget_ends_within_10_percent(folder, tmp_path):
    lines = []
    start = time.perf_counter()
    result, plan = train_with_budget(TrainConfig(str(folder), str(tmp_path / "run"), verbose=0), "60s", lines.append)
    wall = time.perf_counter() - start
    assert wall <= 66, (wall, plan, lines)
    assert any(line.startswith("Plan: ") and " px, " in line and "about " in line for line in lines), lines
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    # It followed its plan rather than stopping at once: every planned epoch ran, or the deadline ended training
    # close to the budget. (Not a lower bound on wall time: the plan's speed estimate comes from the first steps,
    # and on a shared machine the rest of the run can be much faster or slower than they were.)
    assert metrics["epochs"] == plan.epochs or wall >= 50, (wall, metrics["epochs"], plan, lines)
    assert metrics["budget"]["plan"] == plan.describe() and metrics["budget"]["budget_s"] == 60
    assert (result.run_dir / "report.html").is_file()
