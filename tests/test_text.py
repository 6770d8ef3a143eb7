"""kerasweep._text: one way a value reads, in the tables, status lines and the report."""

from __future__ import annotations

import math

from kerasweep._html_report.format import fmt
from kerasweep._text import format_value
from kerasweep.local._records import StopReason


def test_values_read_the_same_everywhere():
    assert fmt is format_value
    assert [format_value(v) for v in (0.123456, 3, True, None, math.nan, -math.inf)] == [
        "0.1235", "3", "true", "—", "NaN", "-∞"
    ]  # fmt: skip
    assert format_value({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    assert format_value(None, missing="-") == "-"
    assert format_value("x" * 40, width=24) == "x" * 21 + "..."
    assert format_value(1 / 3, 6) == "0.333333"


def test_a_stop_reason_is_said_one_way():
    stop = StopReason(band=4, threshold=0.3, value=0.81234, epoch=5)
    assert stop.sentence() == "band 4: 0.8123 vs threshold 0.3"
    assert stop.sentence("minimize") == "band 4: 0.8123 > threshold 0.3"
    assert stop.sentence("maximize") == "band 4: 0.8123 < threshold 0.3"
