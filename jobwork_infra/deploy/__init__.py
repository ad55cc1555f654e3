"""Deploy a plan: one flow (flow.py) over a contract (target.py), with two targets behind it,
CloudFormation (cloudformation/) and the local engine (local/); the CLI gets them from factory.py.
Every refusal is in gate.py, applying in apply.py, destroy in destroy.py, AWS plumbing in aws.py.
Progress is emitted as events (events.py) that report/deploy.py renders. docs/architecture.md maps
the rooms and which way the imports run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeployRequest:
    """What the user asked of `deploy`/`destroy`, independent of the target."""

    env: str
    dry_run: bool = False
    yes: bool = False
    allow_destructive: bool = False
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None
    template_bucket: str | None = None
    timeout: float | None = None   # seconds to wait for tables and stacks to settle (None: a day)
    wait: bool = False             # sleep through AWS's TTL cool-down instead of stopping
    plan_out: str | None = None    # --plan-out FILE (with --dry-run): save the plan (saved_plan.py)
    plan_file: str | None = None   # --plan FILE: apply exactly that saved plan
    adopt: bool = False            # take over tables under the schema's names that nothing manages (adopt.py)
    from_stack: str | None = None  # with adopt: the CloudFormation stack that holds them now
    allow_drift: bool = False      # deploy even when live tables drifted from what was deployed
    skip_unkeyed: bool = False     # a migration leaves items without the new key behind (docs/migrate.md)
    # Where the command ran, for the follow-up commands it prints (jobwork_infra/followup.py): the
    # target flag --local and the schema path as given.
    local: bool = False
    schema: str | None = None
    backfill_ttl: bool = False     # --backfill-ttl: write the new TTL attribute on existing items (deploy/ttl_rename.py)
    allow_large_copy: bool = False  # a migration copies a source over migrate/scale.py's limit anyway (R027)
