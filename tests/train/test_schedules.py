import math

import pytest

from tlcore.train.schedules import lr_factor


def test_cosine_runs_from_one_to_zero_through_half():
    assert lr_factor("cosine", 0.0) == pytest.approx(1.0)
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("cosine", 1.0) == pytest.approx(0.0, abs=1e-12)


def test_onecycle_warms_up_then_decays():
    assert lr_factor("onecycle", 0.0) == pytest.approx(1 / 25)
    assert lr_factor("onecycle", 0.3) == pytest.approx(1.0)
    assert lr_factor("onecycle", 0.15) < lr_factor("onecycle", 0.3)
    assert lr_factor("onecycle", 0.65) == pytest.approx(0.5)
    assert lr_factor("onecycle", 1.0) == pytest.approx(0.0, abs=1e-12)


def test_constant_and_clamping():
    assert lr_factor("constant", 0.7) == 1.0
    assert lr_factor("cosine", -1) == 1.0 and math.isclose(lr_factor("cosine", 2), 0.0, abs_tol=1e-12)


def test_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="'warm'"):
        lr_factor("warm", 0.5)
