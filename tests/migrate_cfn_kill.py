"""`python -m tests.migrate_cfn_kill STAGE:N -- DEPLOY ARGS…`: the CLI's deploy, SIGKILLed during stage B.

A reliability test (tests/integration/test_migrate_cfn_kill.py) runs this in a child process against the strict
double. The copy uses small pages (so a few hundred items take many checkpoints), the polls are
immediate, and the process sends itself SIGKILL right after the N-th BatchWriteItem of STAGE (`copy`
or `catchup`) has landed and before the checkpoint that records it is written: the hardest instant,
writes in generation N that no checkpoint records. Nothing else of the deploy is changed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def main() -> None:
    from jobwork_infra.cli import app
    from jobwork_infra.deploy.timing import TIMING
    from jobwork_infra.migrate import catchup, stage
    from jobwork_infra.migrate import copy as copy_module

    stage_name, count = sys.argv[1].split(":")
    module = {"copy": copy_module, "catchup": catchup}[stage_name]
    kill_after = int(count)
    args = sys.argv[sys.argv.index("--") + 1:]
    TIMING.stack_poll = TIMING.change_set_poll = 0
    TIMING.first_poll = 0.05

    job_for = stage.job_for

    def small_pages(*a, **k):
        from dataclasses import replace

        return replace(job_for(*a, **k), page_size=5, segments=4, concurrency=2)

    stage.job_for = small_pages
    write_items = module.write_items
    writes = [0]
    lock = threading.Lock()

    def write_then_die(client, table, requests, **k):
        throttled = write_items(client, table, requests, **k)
        with lock:
            writes[0] += 1
            if writes[0] >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return throttled

    module.write_items = write_then_die
    app(args, prog_name="jobwork-infra")


if __name__ == "__main__":
    main()
