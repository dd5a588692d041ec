"""The quick variants of the fault scenarios (`make chaos` runs them all, at full length).

Each runs real processes; a failure prints the scenario's report: what was tried, and
which play was lost or doubled.
"""

import random

import pytest

from chaos import scenarios
from chaos.harness import build_template

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("chaos-template"))


def run(scenario, template, tmp_path):
    verdict = scenario(
        scenarios.Context(workdir=tmp_path, template=template, rng=random.Random(9), quick=True)
    )
    assert verdict.ok, verdict.report()
    return verdict


def test_killing_the_scheduler_mid_play_and_for_longer_than_grace_loses_and_doubles_nothing(
    template, tmp_path
):
    verdict = run(scenarios.scheduler_killed_through_a_day, template, tmp_path)
    # The kills really hit: a play cut off, and slots missed while it was down.
    assert any("stopped during the play" in reason for reason in verdict.not_played)
    assert any("grace window" in reason for reason in verdict.not_played)


def test_a_full_disk_fails_the_render_clearly_and_leaves_nothing_half_written(template, tmp_path):
    import os

    if os.geteuid() != 0:
        pytest.skip("mounting the tiny tmpfs needs root")
    run(scenarios.disk_full_during_render, template, tmp_path)


def test_a_hanging_gtts_times_out_and_falls_back_or_fails_clearly(template, tmp_path):
    run(scenarios.gtts_hanging, template, tmp_path)
