"""Deploy a plan: to CloudFormation (cloudformation.py) or to a local engine (local.py, engine.py).

The local deploy is layered local.py → live.py → registry.py → local_client.py."""

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
    adopt: bool = False          # take over unmanaged tables under the schema's names (deploy/adopt.py)
