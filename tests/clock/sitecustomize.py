"""Loaded by every Python process the tests start (PYTHONPATH), when the suite runs with
`--clock`: the process's wall clock is shifted as the test process's is, so a `hocvuso serve`
subprocess and the test agree on what time it is in the commune."""
import os

if os.environ.get("TEST_CLOCK_SHIFT"):
    import time

    import time_machine

    time_machine.travel(time.time() + float(os.environ["TEST_CLOCK_SHIFT"]), tick=True).start()
