"""The stop rule: a falling curve goes on, a flat one stops where it flattened, noise at the
floor is not progress, and impossible parameters are refused with a message naming them."""

from __future__ import annotations

import json

import pytest
from conftest import TINY_SETTINGS

from genbench.cli import main
from genbench.errors import ConfigError
from genbench.settings import build
from genbench.training.stopping import StopRule, format_x

SECONDS = [3.75 * 2**i for i in range(8)]  # 3.75 ... 480 s, as curves.py places points


def curve(values, xs=SECONDS):
    return list(zip(xs, values, strict=False))


def test_a_curve_falling_faster_than_the_rule_asks_does_not_stop():
    rule = StopRule(metric="kid", min_gain=0.1, patience=2)
    falling = curve([0.2 * 0.8**i for i in range(8)])  # 20% per doubling
    assert rule.verdict(falling) is None
    assert rule.stop_index(falling) is None


def test_a_flat_curve_stops_at_its_second_flat_doubling():
    rule = StopRule(metric="fid", min_gain=0.1, patience=2)
    # 30 s -> 60 s gains 5%, 60 -> 120 s gains 2%: flat since 30 s, stopped at 120 s.
    points = curve([80, 40, 20, 10, 9.5, 9.31, 9.3, 9.3])
    assert rule.stop_index(points) == 5
    assert rule.verdict(points) == "flat since 30 s"
    assert rule.verdict(points[:5]) is None  # one flat doubling is not enough
    assert StopRule(metric="fid", min_gain=0.1, patience=1).verdict(points) == "flat since 30 s"


def test_one_flat_doubling_between_gains_does_not_stop():
    rule = StopRule(metric="fid", min_gain=0.1, patience=2)
    # A plateau (or a bad point: the old joint VQ-VAE went 21 -> 40 -> 17) resets on a gain.
    assert rule.verdict(curve([40, 21.4, 39.6, 17.0, 12.0, 8.0])) is None
    assert rule.verdict(curve([40, 30, 29.5, 20, 19.9, 19.8])) == "flat since 30 s"


def test_an_early_pause_does_not_stop_a_run_before_half_its_cap():
    # The GAN of 2026-12-07 (cap 120 s): FID 68.7, 16.3, 17.3, 16.2 at 3.75-30 s paused over
    # two doublings, then fell to 5.9 by 120 s on another day. The rule decides from 60 s on.
    gan = curve([68.7, 16.3, 17.3, 16.2])
    assert StopRule(metric="fid", patience=2).verdict(gan) == "flat since 7.5 s"  # no cap
    capped = StopRule(metric="fid", patience=2, cap=120)
    assert capped.verdict(gan) is None
    assert capped.verdict(gan + [(60, 10.0)]) is None  # it fell again
    # Still flat at 60 s, half the cap: the pause was the end.
    assert capped.verdict(gan + [(60, 16.1)]) == "flat since 15 s"


def test_a_worse_point_counts_as_flat():
    rule = StopRule(metric="fid", min_gain=0.1, patience=2)
    assert rule.verdict(curve([40, 20, 22, 25])) == "flat since 7.5 s"


def test_noise_at_the_kid_floor_is_not_progress():
    rule = StopRule(metric="kid", min_gain=0.1, patience=2)  # tolerance 5e-3 by default
    # KID scatters around 0 at the floor: relative changes are huge, absolute ones tiny.
    floor = curve([0.05, 0.01, 0.0004, -0.0003, 0.0002, -0.0004])
    assert rule.stop_index(floor) == 4
    assert rule.verdict(floor) == "flat since 15 s"
    # Without the absolute tolerance the same noise reads as progress (0.0002 -> -0.0004).
    strict = StopRule(metric="kid", min_gain=0.1, patience=2, tolerance=0.0)
    assert strict.verdict(floor) is None
    # Above the floor the tolerance changes nothing: 10% of 0.1 is more than 5e-3.
    assert rule.flat((60, 0.1), (120, 0.0905)) and not rule.flat((60, 0.1), (120, 0.0895))


def test_a_step_shorter_than_a_doubling_asks_for_a_smaller_gain():
    rule = StopRule(metric="fid", min_gain=0.19, patience=1, tolerance=0.0)
    # 30 -> 60 s is a doubling: 19% wanted. 60 -> 90 s is 0.585 doublings: 1 - 0.81**0.585
    # = 11.6% wanted, so 12% there is progress and 11% is not.
    assert not rule.flat((60, 10.0), (90, 8.8))
    assert rule.flat((60, 10.0), (90, 8.9))
    assert rule.flat((30, 10.0), (60, 8.2)) and not rule.flat((30, 10.0), (60, 8.0))


def test_a_run_at_its_cap_is_judged_on_its_last_whole_doubling():
    rule = StopRule(metric="fid", min_gain=0.1, patience=2)
    # The quick suite's diffusion run: the short last step (240 -> 270 s, -0.34) is under
    # the 0.5 tolerance, but the doubling before the cap (135 -> 270 s) gained 32%.
    diffusion = [(60, 8.44), (120, 5.38), (240, 3.83), (270, 3.49)]
    assert rule.flat(diffusion[-2], diffusion[-1])
    assert rule.at_cap(diffusion) == "cap, still improving (FID −32% per doubling)"
    # Half the cap between points is read off the curve in log x: 45 -> 90 s starts at 12.4.
    beta_vae = [(30, 14.38), (60, 11.03), (90, 10.98)]
    assert rule.at_cap(beta_vae) == "cap, still improving (FID −12% per doubling)"
    # A curve that got worse, or gained less than asked over its last doubling, is done.
    assert rule.at_cap([(7.5, 9.29), (15, 8.01), (30, 8.80), (45, 9.0)]) == "cap"
    assert rule.at_cap([(60, 7.2), (120, 6.9)]) == "cap"
    # Shorter than a doubling in all: the whole curve stands for it.
    assert rule.at_cap([(30, 10.0), (45, 6.0)]).startswith("cap, still improving")
    assert rule.at_cap([(30, 10.0)]) == "cap"


def test_verdict_formats_the_budget_in_its_unit():
    points = [(100 * 2**i, v) for i, v in enumerate([50, 20, 19.5, 19.4])]
    rule = StopRule(metric="fid", unit="steps")
    assert rule.verdict(points) == "flat since 200 steps"
    assert format_x(3.2e15, "flops") == "3.2 PFLOP"
    assert format_x(5e8, "flops") == "500 MFLOP"
    assert format_x(3.75, "seconds") == "3.75 s"
    assert format_x(12000, "steps") == "12,000 steps"


def test_points_must_increase():
    with pytest.raises(ValueError, match="positive, increasing x"):
        StopRule().verdict([(30, 1.0), (30, 0.5)])


def test_describe_says_the_rule_and_the_cap():
    assert StopRule(metric="kid", min_gain=0.1, patience=2, cap=600).describe() == (
        "stop when a doubling of training improves KID by < 10% (or by < 0.005) twice in a row; "
        "cap 600 s")
    assert StopRule(metric="fid", min_gain=0.05, patience=3, unit="flops", cap=2e15,
                    tolerance=0.25).describe() == (
        "stop when a doubling of training improves FID by < 5% (or by < 0.25) 3 times in a "
        "row; cap 2 PFLOP")


@pytest.mark.parametrize("settings, match", [
    ({"metric": "is"}, "metric must be one of kid, fid, got 'is'"),
    ({"min_gain": -0.1}, r"min_gain is the fraction .* got -0.1"),
    ({"min_gain": 1.0}, r"min_gain .* \(not including\) 1 .* got 1.0"),
    ({"min_gain": "10%"}, "min_gain .* got '10%'"),
    ({"patience": 0}, "patience .* at least 1; got 0"),
    ({"patience": 1.5}, "patience .* whole number .* got 1.5"),
    ({"unit": "minutes"}, "unit must be one of seconds, steps, flops, got 'minutes'"),
    ({"cap": 0}, "cap must be a number of seconds greater than 0, got 0"),
    ({"cap": -5, "unit": "steps"}, "cap must be a number of steps greater than 0, got -5"),
    ({"tolerance": -1e-3}, "tolerance .* 0 or more; got -0.001"),
])
def test_impossible_parameters_are_named(settings, match):
    with pytest.raises(ValueError, match=match):
        StopRule(**settings)


def test_a_suite_table_with_an_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"\[stop\] has no setting \['min_gains'\]"):
        build(StopRule, {"min_gains": 0.1}, "stop")
    with pytest.raises(ConfigError, match=r"\[stop\] stop rule: patience"):
        build(StopRule, {"patience": 0}, "stop")


def test_a_cap_below_the_first_curve_point_is_refused():
    with pytest.raises(ConfigError, match=r"cap \(2 s\) is below the first curve point "
                                          r"\(3.75 s\)"):
        StopRule(cap=2).check_against(3.75)
    with pytest.raises(ConfigError, match=r"cap \(50 steps\) is below the first curve point "
                                          r"\(100 steps\)"):
        StopRule(cap=50, unit="steps").check_against(100)


def test_a_cap_before_the_rule_can_act_is_refused():
    # patience 2 from a first point at 3.75 s needs points up to 15 s.
    with pytest.raises(ConfigError, match=r"needs curve points up to 15 s .* cap \(10 s\)"):
        StopRule(cap=10, patience=2).check_against(3.75)
    StopRule(cap=15, patience=2).check_against(3.75)
    StopRule(cap=None).check_against(3.75)  # no cap: nothing to check


SUITE = """
name = "stops"
models = ["ae"]
datasets = ["sprites"]
seeds = [0]
""" + TINY_SETTINGS.replace("steps = 30", "steps = 80").replace("{device}", "cpu") + """
curve_samples = 100
curve_start_steps = 10

[stop]
metric = "fid"
min_gain = 0.99
patience = 1
unit = "steps"
"""


def test_a_suite_run_stops_when_its_curve_is_flat_and_says_why(tmp_path, capsys):
    """Through the command line: the rule ends the run at its first flat doubling (a gain of
    99% is never reached), long before its 80 steps, and train.json says why."""
    suite = tmp_path / "stops.toml"
    suite.write_text(SUITE.replace("{{", "{").replace("}}", "}"))
    assert main(["benchmark", "--suite", str(suite), "--out", str(tmp_path / "out"),
                 "--quiet", "--no-report"]) == 0
    train = json.loads((tmp_path / "out" / "runs" / "ae-sprites-s0" / "train.json").read_text())
    assert train["stopped"] == "flat since 10 steps"
    assert train["train_steps"] == 20


def test_a_suite_with_an_impossible_rule_is_refused_before_training(tmp_path, capsys):
    suite = tmp_path / "bad.toml"
    suite.write_text(SUITE.replace("min_gain = 0.99", "min_gain = -0.1")
                     .replace("{{", "{").replace("}}", "}"))
    assert main(["benchmark", "--suite", str(suite), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 2
    assert "min_gain" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_cap_and_a_different_budget_are_refused_and_a_cap_alone_is_the_budget(tmp_path):
    """The cap is the budget no run passes: given beside another budget it is refused by
    name, not silently put in that budget's place."""
    from genbench.settings import load_suite

    suite = tmp_path / "capped.toml"
    text = SUITE.replace("{{", "{").replace("}}", "}")
    suite.write_text(text + "cap = 40\n")  # [train] says steps = 80
    with pytest.raises(ConfigError, match=r"\[stop\] the stop rule's cap \(40 steps\) and the "
                       r"training budget \(steps = 80\) differ"):
        load_suite(suite)
    suite.write_text(text.replace("steps = 80\n", "") + "cap = 40\n")
    run = load_suite(suite).runs()[0]
    assert (run.train.steps, run.train.seconds) == (40, None)
    suite.write_text(text + "cap = 80\n")  # the same budget, said twice: allowed
    assert load_suite(suite).runs()[0].train.steps == 80
