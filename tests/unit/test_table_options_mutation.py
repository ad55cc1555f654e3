"""What drift compares for a warm throughput (table_options._warm_settle), where mutation testing found it
unpinned (issue 21): each direction is a floor of its own, a live table without one falls short, and the
shortfall names only the directions the schema sets. A wrong answer here either hides a warm throughput
lowered outside the tool or reports drift on every deploy (and refuses it: R009)."""

from __future__ import annotations

from jobwork_infra.table_options import BY_FIELD, WarmThroughput, settled

WARM = BY_FIELD["warm_throughput"]


def test_one_direction_short_is_a_shortfall_even_when_the_other_is_above():
    wanted = WarmThroughput(read=15000, write=4000)
    assert settled(WARM, WarmThroughput(read=20000, write=3000), wanted) == WarmThroughput(read=20000, write=3000)
    assert settled(WARM, WarmThroughput(read=12000, write=9000), wanted) == WarmThroughput(read=12000, write=9000)
    assert settled(WARM, WarmThroughput(read=15000, write=4000), wanted) == wanted


def test_the_shortfall_names_only_the_directions_the_schema_sets():
    live = WarmThroughput(read=50, write=60)
    assert settled(WARM, live, WarmThroughput(write=100)) == WarmThroughput(write=60)
    assert settled(WARM, live, WarmThroughput(read=100)) == WarmThroughput(read=50)


def test_a_direction_the_table_does_not_report_falls_short():
    # Read back with write only: a wanted read floor is not met, and there is no live read value to show.
    assert settled(WARM, WarmThroughput(write=500), WarmThroughput(read=100)) is None
    assert settled(WARM, WarmThroughput(write=500), WarmThroughput(read=100)) != WarmThroughput(read=100)


def test_no_live_warm_throughput_is_not_what_was_asked():
    assert settled(WARM, None, WarmThroughput(read=100, write=100)) is None
