"""`--budget`: the plan from measured speed, the deadline guard, and a real run that ends within its budget."""

import json
import os
import time

import pytest

from cnnkit.pipeline import TrainConfig
from cnnkit.pipeline import budget as budget_module
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


def test_plan_climbs_the_ladder_while_the_stronger_model_still_gets_its_epochs(folder, monkeypatch):
    # Decoding this folder's 300 PNGs takes a few hundredths of a second, more or less with the machine's load, and
    # the report's time is timed from a plot: a fixed half second and 10 s keep the batch counts below exact.
    monkeypatch.setattr(budget_module, "_decode_seconds", lambda *args, **kwargs: 0.5)
    monkeypatch.setattr(budget_module, "_report_seconds", lambda: 10.0)
    summary = DataSummary(str(folder), ["a", "b", "c"], {"a": 100, "b": 100, "c": 100}, (28, 28), True)
    speeds = {
        "ResNetM": (0.04, 0.004),
        "ResNetS": (0.014, 0.0014),
        "ResNetXS": (0.005, 0.0005),
        "tutorial_bn": (0.003, 0.0003),
        "tutorial": (0.002, 0.0002),
    }
    measured = []

    def measure(name, shape, classes, batch, precision):
        measured.append((name, batch))
        return (*speeds[name], 0.5)  # and 0.5 s of checkpoints after each epoch

    def plan(budget, **kwargs):
        measured.clear()
        return plan_budget(TrainConfig(str(folder), "unused", tta=True, **kwargs), budget, summary, measure=measure)

    # 240 training and 60 validation images an epoch (plus 0.5 s of checkpoints): tutorial_bn 1.24 s, ResNetS
    # 3.94 s, ResNetM 10.34 s; the final evaluation (flip TTA: twice) and the 10 s report on top.
    per_epoch = {name: 240 * t + 60 * p + 0.5 for name, (t, p) in speeds.items()}
    big = plan(400)
    assert big.model == "ResNetM" and big.image_size == 28 and big.expected_s <= 400
    assert measured == [(name, 128) for name in ("tutorial_bn", "ResNetS", "ResNetM")]  # recipe batch; no ResNetXS
    # Whole batches, not whole epochs (2 batches of 128 an epoch): the budget is used up to less than one batch.
    assert big.steps_per_epoch == 2 and big.epochs == -(-big.steps // 2)
    assert 0 <= 400 - big.expected_s < per_epoch["ResNetM"] / 2
    # ResNetS gets 12.5 epochs in a minute: fewer than the 20 that would leave ResNetM (2x slower) its 10.
    one_minute = plan(60)
    assert one_minute.model == "ResNetS" and 3.5 <= one_minute.epochs < 20 and one_minute.expected_s <= 60
    assert [m for m, _ in measured] == ["tutorial_bn", "ResNetS"]
    # 24 s: tutorial_bn gets 10.9 epochs, enough to measure ResNetS (3.5 epochs at 2.8x), which then gets only 3.4.
    assert plan(24).model == "tutorial_bn" and [m for m, _ in measured] == ["tutorial_bn", "ResNetS"]
    # 20 s: tutorial_bn gets 7.5 epochs, too few for ResNetS, which is not even measured.
    short = plan(20)
    assert short.model == "tutorial_bn" and [m for m, _ in measured] == ["tutorial_bn"]
    assert 0 <= 20 - short.expected_s < per_epoch["tutorial_bn"] / 2 and short.steps == 15 and short.epochs == 8
    assert short.describe().startswith("the tutorial CNN with BatchNorm at 28 px, 7.5 epochs, about ")
    short.steps = 16
    assert short.describe().startswith("the tutorial CNN with BatchNorm at 28 px, 8 epochs")
    # Under a quarter epoch of tutorial_bn (0.2 here): the tutorial CNN; a batch size the user gave is measured.
    assert plan(10.8, batch_size=16).model == "tutorial"
    assert measured == [("tutorial_bn", 16), ("tutorial", 16)]


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


def _one_cycle_guard(total_steps, **kwargs):
    """A Deadline on a fake clock over a model whose SGD runs a OneCycle schedule, and a function that runs one
    epoch of ``batches`` batches in ``seconds`` (stopping where the guard stops training)."""
    from cnnkit import optimizers
    from cnnkit.optimizers.schedules import OneCycle

    class Model:
        stop_training = False
        optimizer = optimizers.SGD(OneCycle(0.2, total_steps=total_steps))

    now = [0.0]
    guard = Deadline(100.0, clock=lambda: now[0], steps=total_steps, **kwargs)
    guard.set_model(Model())

    def epoch(index, seconds, batches=50):
        guard.on_epoch_begin(index)
        for b in range(batches):
            now[0] += seconds / batches
            guard.on_train_batch_end(b)
            if guard.model.stop_training:
                break
        guard.on_epoch_end(index)

    return guard, Model.optimizer._learning_rate, now, epoch


def test_deadline_shortens_the_one_cycle_schedule_to_the_batches_that_fit():
    guard, schedule, now, epoch = _one_cycle_guard(500)

    epoch(0, 8.0)  # 8 s for 50 batches: all 500 fit in 100 s
    assert guard.steps == 500 and schedule.total_steps == 500 and not guard.replanned
    epoch(1, 15.0)  # 0.3 s a batch; the median of 0.16 and 0.3 (and the average) is 0.23 s: 100 + 77 s // 0.23 s
    assert guard.steps == 434 and schedule.total_steps == 434 and guard.replanned == [(100, 434)]
    epoch(2, 15.0)  # two of the last three at 0.3 s: the slowdown lasts, 150 + 62 s // 0.3 s = 356 in all
    assert guard.steps == 356 and schedule.total_steps == 356 and guard.replanned == [(100, 434), (150, 356)]
    assert schedule(356) == pytest.approx(0.2 / 1e5) and schedule(300) > 100 * schedule(356)  # annealed at the end
    for index in range(3, 7):
        epoch(index, 15.0)
        assert not guard.model.stop_training and guard.steps == 356
    epoch(7, 15.0)
    # The 356th batch is the 6th of the 8th epoch: training stops there, inside the epoch, before the deadline.
    assert guard.model.stop_training and guard.done == 356 and guard.stopped_early and now[0] < 100


def test_a_shortfall_within_the_margin_ends_at_the_deadline_without_moving_the_schedule():
    guard, schedule, now, epoch = _one_cycle_guard(500)
    for index in range(10):
        epoch(index, 10.2)  # 0.204 s a batch: 490 of the 500 fit, within REPLAN_MARGIN (2%) and a batch
        if guard.model.stop_training:
            break
    assert not guard.replanned and schedule.total_steps == 500
    # The deadline stops the 10th epoch at its 40th batch; the rate is under 1% of its peak there.
    assert guard.stopped_early and guard.done == 490 and index == 9 and now[0] <= 100
    assert schedule(490) < 0.01 * 0.2


def test_one_slow_epoch_counts_in_the_average_but_does_not_set_the_pace():
    guard, schedule, now, epoch = _one_cycle_guard(500)
    for index in range(3):
        epoch(index, 8.0)  # 0.16 s a batch
    epoch(3, 30.0)  # one burst of 0.6 s a batch
    # The median of the last three is still 0.16 s; the average, 54 s over 200 batches, is 0.27 s and sets the pace:
    # 200 + 46 s // 0.27 s = 370 (the slowest epoch's pace would have cut the run to 200 + 46 s // 0.6 s = 276).
    assert guard.pace() == pytest.approx(0.27) and guard.steps == 370 and schedule.total_steps == 370


def test_deadline_lengthens_the_schedule_when_epochs_run_faster_than_planned():
    guard, schedule, now, epoch = _one_cycle_guard(150, max_steps=300)

    epoch(0, 25.0)  # 0.5 s a batch: 50 done + 75 s // 0.5 s = 200 fit, more than the 150 planned
    assert guard.steps == 200 and schedule.total_steps == 200 and guard.replanned == [(50, 200)]
    epoch(1, 25.0)  # the same pace: 200 still fit, nothing changes
    assert guard.steps == 200 and guard.replanned == [(50, 200)]
    epoch(2, 12.5)  # 0.25 s a batch now, but one fast epoch is not the pace: the median of the last three is 0.5 s,
    assert guard.steps == 225 and schedule.total_steps == 225  # 150 + 37.5 s // 0.5 s
    epoch(3, 12.5)  # the median is 0.25 s, the average 75 s / 200 = 0.375 s sets the pace: 200 + 25 s // 0.375 s
    assert guard.steps == 266
    epoch(4, 12.5)  # 87.5 s / 250 = 0.35 s: 250 + 12.5 s // 0.35 s = 285
    assert guard.steps == 285 and guard.replanned == [(50, 200), (150, 225), (200, 266), (250, 285)]
    epoch(5, 12.5)
    # The 285th batch (the 35th of the 6th epoch) ends training, the schedule annealed there, 3.75 s before the
    # deadline; not a deadline stop.
    assert guard.model.stop_training and guard.done == 285 and not guard.stopped_early and now[0] == 96.25
    assert schedule(285) == pytest.approx(0.2 / 1e5) and schedule.total_steps == 285
    assert guard.epoch_seconds == [25.0, 25.0, 12.5, 12.5, 12.5, 8.75]  # what metrics.json reports for each epoch


def test_deadline_never_lengthens_past_max_steps():
    class Model:
        stop_training = False

    now = [0.0]
    guard = Deadline(1000.0, clock=lambda: now[0], steps=100, max_steps=150)
    guard.set_model(Model())
    guard.on_epoch_begin(0)
    for b in range(50):
        now[0] += 0.1
        guard.on_train_batch_end(b)
    guard.on_epoch_end(0)
    assert guard.steps == 150  # 9,950 batches would fit; the plan may grow by GROWTH only
    no_cap = Deadline(1000.0, clock=lambda: now[0], steps=100)  # without max_steps: the plan is only shortened
    no_cap.set_model(Model())
    no_cap.on_epoch_begin(0)
    no_cap.on_train_batch_end(0)
    no_cap.on_epoch_end(0)
    assert no_cap.steps == 100 and not no_cap.replanned


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
    # With the re-plan it may run more epochs than planned when they ran faster than measured.
    assert metrics["epochs"] >= plan.epochs or wall >= 50, (wall, metrics["epochs"], plan, metrics["budget"])
    assert metrics["budget"]["batches"] >= plan.steps or wall >= 50, (wall, plan, metrics["budget"])
    assert metrics["budget"]["plan"] == plan.describe() and metrics["budget"]["budget_s"] == 60
    assert len(metrics["budget"]["epoch_seconds"]) == metrics["epochs"]
    assert 0 < metrics["budget"]["after_training_s"] < wall and metrics["budget"]["final_s_planned"] == round(
        plan.final_s, 1
    )
    assert (result.run_dir / "report.html").is_file()


def test_measure_times_training_prediction_and_the_per_epoch_checkpoints(monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the scratch folder of the checkpoints goes here
    saved = []
    real_save = budget_module.callbacks.ModelCheckpoint.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        real_save(self, epoch, logs)
        saved.append((epoch, os.path.isfile(self.filepath)))

    monkeypatch.setattr(budget_module.callbacks.ModelCheckpoint, "on_epoch_end", on_epoch_end)
    train_s, predict_s, epoch_end_s = budget_module._measure("tutorial_bn", (16, 16, 1), 3, 16, "float32")
    assert train_s > 0 and predict_s > 0 and epoch_end_s > 0
    assert saved == [(0, True), (1, True)]  # the best checkpoint really written after both timed epochs
    assert list(tmp_path.iterdir()) == []  # and the scratch folder removed
