"""dynrcnn.run_record: which runs the sample figures draw."""

from collections import namedtuple

from dynrcnn.run_record import lowest_seed_runs

Run = namedtuple("Run", "arm variant seed")


def test_lowest_seed_runs_keeps_one_run_per_arm_and_variant_in_the_given_order():
    runs = [
        Run("dla", "default", 2),
        Run("dla", "default", 0),
        Run("baseline", "static", 5),
        Run("baseline", "default", 1),
        Run("dla", "default", 1),
        Run("baseline", "static", 3),
    ]
    assert lowest_seed_runs(runs) == [
        Run("dla", "default", 0),
        Run("baseline", "default", 1),
        Run("baseline", "static", 3),
    ]
    assert lowest_seed_runs(iter(runs[:1])) == runs[:1] and lowest_seed_runs([]) == []
