"""A strict AWS double for the tests: moto's server, with AWS's documented rules patched in.

Usage (the fixture is auto-loaded from tests/plugins/strict_aws.py):

    def test_two_indexes_land_in_two_steps(strict_aws, monkeypatch):
        monkeypatch.setattr(my_module, "utcnow", strict_aws.clock.now)   # the tool's clock
        strict_aws.backfill_seconds = 0.2                                 # GSI CREATING time
        run("deploy", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--yes")
        strict_aws.client("dynamodb").describe_table(TableName=...)       # live state
        strict_aws.clock.advance(3600)                                    # end a TTL cool-down
        strict_aws.fail_next("UsersTable", "boom")                        # next execution fails there
        strict_aws.resource_failures("shop-dev")                          # [(logical id, status, reason)]

Modules: state (clock, backfill time, injected failures), dynamodb (index lifecycle, TTL and
deletion-protection rules, on the DynamoDB API too), stacks (reading moto's stacks, events),
tables (what a stack update does to a table, checked before applying), iam (policy size quota),
imports (IMPORT change sets), cloudformation (the executor: check all, roll back or apply;
change-set details; template limits), install (patches moto once per session). Every rule with its source and what is still more lenient than
AWS: docs/deploy.md, "The strict AWS double".
"""
