"""DynamoDB's rules for index operations, TTL and deletion protection, on moto's live tables.

Shared by the DynamoDB API (UpdateTable, UpdateTimeToLive, DeleteTable) and the CloudFormation
executor (tests/double/cloudformation.py): each rule is a check that returns AWS's message and
changes nothing, and an apply step that runs only after every check of an operation passed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models.table import GlobalSecondaryIndex, Table

from .state import DOUBLE

PREFIX = "com.amazonaws.dynamodb.v20120810#"

# "You can create or delete only one global secondary index per UpdateTable operation" and no
# index operation while another index of the table is being created or deleted:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html
# The message is the one AWS returns (quoted in issue 9 and cloudformation-coverage-roadmap#1075).
ONE_ONLINE_INDEX = ("Subscriber limit exceeded: Only 1 online index can be created or deleted "
                    "simultaneously per table")

# UpdateTimeToLive: "It can take up to one hour for the change to fully process. Any additional
# UpdateTimeToLive calls for the same table during this one hour duration result in a
# ValidationException." https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html
# The message text as AWS returns it: aws/aws-cdk#13720 (review thread).
TTL_COOL_DOWN = timedelta(hours=1)
TTL_TOO_SOON = "Time to live has been modified multiple times within a fixed interval"
# One TTL attribute per table; enabling another while TTL is on is refused (go-to-k/cdkd#932,
# aws-cdk#10576 discussion); enabling twice is refused too (the API is not idempotent).
TTL_OTHER_ATTRIBUTE = "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
TTL_ALREADY_ENABLED = "TimeToLive is already enabled"
TTL_ALREADY_DISABLED = "TimeToLive is already disabled"

# "You can switch tables from provisioned capacity mode to on-demand mode up to four times in a 24-hour rolling
# window. You can switch tables from on-demand mode to provisioned capacity mode at any time."
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/switching.capacitymode.html
# The message's shape is AWS's from when the limit was once a day (aws-amplify/amplify-cli#1054: "Subscriber
# limit exceeded: Update to PayPerRequest mode are limited to once in 1 day(s)."), with today's count.
ON_DEMAND_SWITCHES = 4
ON_DEMAND_WINDOW = timedelta(hours=24)
ON_DEMAND_LIMIT = "Subscriber limit exceeded: Update to PayPerRequest mode are limited to 4 times in 1 day(s)."

# DeleteTable on a protected table:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection
DELETION_PROTECTED = ("Resource cannot be deleted as it is currently protected against deletion. "
                      "Disable deletion protection first.")


class DynamoError(JsonRESTError):
    def __init__(self, code: str, message: str):
        super().__init__(PREFIX + code, message)
        self.short_code = code
        self.exception_msg = message


# ---------------------------------------------------------------------------------------------
# Index lifecycle: CREATING (Backfilling) → ACTIVE, DELETING → gone, on the double's clock.

def settle(table: Table) -> None:
    """Finish the index transitions whose time has come."""
    with DOUBLE.lock:  # the server thread and the test thread both read tables
        now = DOUBLE.clock.now()
        kept = []
        for index in table.global_indexes:
            until = getattr(index, "strict_until", None)
            if until is not None and now >= until:
                index.strict_until = None
                if index.status == "DELETING":
                    continue
                index.status = "ACTIVE"
            kept.append(index)
        table.global_indexes = kept


def busy_indexes(table: Table) -> list[str]:
    settle(table)
    return [i.name for i in table.global_indexes if i.status in ("CREATING", "DELETING", "UPDATING")]


def check_index_operations(table: Table, creates: list[str], deletes: list[str]) -> str | None:
    """AWS's message when these GSI creates/deletes cannot run on the table now, else None."""
    if not creates and not deletes:
        return None
    if len(creates) + len(deletes) > 1 or busy_indexes(table):
        return ONE_ONLINE_INDEX
    live = {i.name for i in table.global_indexes}
    for name in creates:
        if name in live:
            return f"Attempting to create an index which already exists: {name}"
    for name in deletes:
        if name not in live:
            return f"Requested resource not found: Index {name} does not exist"
    return None


def start_create(table: Table, spec: dict[str, Any]) -> None:
    index = GlobalSecondaryIndex.create(spec, table.table_key_attrs)
    index.status = "CREATING"
    # "Backfilling is the process of reading items from the table and determining whether they can be added to
    # the index ... After all items have been processed, the backfilling operation is complete"
    # (API_GlobalSecondaryIndexDescription.html): the time grows with the items, backfill_seconds_per_item each.
    seconds = DOUBLE.backfill_seconds + DOUBLE.backfill_seconds_per_item * len(table)
    index.strict_until = DOUBLE.clock.now() + timedelta(seconds=seconds)
    table.global_indexes.append(index)


def start_delete(table: Table, name: str) -> None:
    for index in table.global_indexes:
        if index.name == name:
            index.status = "DELETING"
            index.strict_until = DOUBLE.clock.now() + timedelta(seconds=DOUBLE.backfill_seconds)


def describe_index(original):
    def describe(self: GlobalSecondaryIndex) -> dict[str, Any]:
        result = original(self)
        if self.status == "CREATING":
            # DescribeTable shows a backfilling index as CREATING with Backfilling: true
            # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html#GSI.OnlineOps.Creating
            result["Backfilling"] = True
        return result
    return describe


def describe_table(original):
    def describe(self: Table, *args: Any, **kwargs: Any) -> dict[str, Any]:
        settle(self)
        result = original(self, *args, **kwargs)
        table_class = getattr(self, "strict_table_class", None)
        if table_class:
            # DescribeTable's TableClassSummary (moto has no table class)
            for description in result.values():
                description["TableClassSummary"] = {"TableClass": table_class}
        from .settings import describe as describe_settings  # settings.py imports this module

        for description in result.values():
            describe_settings(self, description)
        return result
    return describe


# ---------------------------------------------------------------------------------------------
# TTL

def ttl_state(table: Table) -> tuple[bool, str | None]:
    return table.ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"), table.ttl.get("AttributeName")


def check_ttl(table: Table, enabled: bool, attribute: str) -> str | None:
    changed = getattr(table, "strict_ttl_changed_at", None)
    if changed is not None and DOUBLE.clock.now() < changed + TTL_COOL_DOWN:
        return TTL_TOO_SOON
    on, current = ttl_state(table)
    if enabled and on:
        return TTL_ALREADY_ENABLED if current == attribute else TTL_OTHER_ATTRIBUTE.format(current=current)
    if not enabled and not on:
        return TTL_ALREADY_DISABLED
    if not enabled and current != attribute:
        return TTL_OTHER_ATTRIBUTE.format(current=current)
    return None


def apply_ttl(table: Table, enabled: bool, attribute: str) -> None:
    now = DOUBLE.clock.now()
    if DOUBLE.ttl_transition_seconds > 0:
        table.ttl = {"TimeToLiveStatus": "ENABLING" if enabled else "DISABLING", "AttributeName": attribute}
        table.strict_ttl_settles_at = now + timedelta(seconds=DOUBLE.ttl_transition_seconds)
    else:
        table.ttl = {"TimeToLiveStatus": "ENABLED" if enabled else "DISABLED", "AttributeName": attribute}
    table.strict_ttl_changed_at = now


def settle_ttl(table: Table) -> None:
    """ENABLING/DISABLING end once their time has passed on the double's clock."""
    settles = getattr(table, "strict_ttl_settles_at", None)
    if settles is not None and DOUBLE.clock.now() >= settles:
        status = table.ttl.get("TimeToLiveStatus")
        table.ttl = {**table.ttl, "TimeToLiveStatus": {"ENABLING": "ENABLED", "DISABLING": "DISABLED"}.get(status, status)}
        table.strict_ttl_settles_at = None


def describe_time_to_live(original):
    def describe(self, name: str) -> dict[str, Any]:
        table = self.tables.get(name)
        if table is not None:
            with DOUBLE.lock:
                settle_ttl(table)
        return original(self, name)
    return describe


# ---------------------------------------------------------------------------------------------
# Billing mode

def check_billing_switch(table: Table, mode: str | None) -> str | None:
    """The fifth switch to on-demand within 24 hours (on the double's clock) is refused."""
    if mode != "PAY_PER_REQUEST" or table.billing_mode == "PAY_PER_REQUEST":
        return None
    now = DOUBLE.clock.now()
    recent = [t for t in getattr(table, "strict_on_demand_switches", []) if now - t < ON_DEMAND_WINDOW]
    return ON_DEMAND_LIMIT if len(recent) >= ON_DEMAND_SWITCHES else None


def record_billing_switch(table: Table, mode: str | None) -> None:
    if mode == "PAY_PER_REQUEST" and table.billing_mode != "PAY_PER_REQUEST":
        table.strict_on_demand_switches = [*getattr(table, "strict_on_demand_switches", []), DOUBLE.clock.now()]


# ---------------------------------------------------------------------------------------------
# The DynamoDB API, patched onto moto's backend

def update_table(original):
    def update(self, name: str, attr_definitions, global_index, *args: Any, **kwargs: Any) -> Table:
        with DOUBLE.lock:
            table = self.get_table(name)
            updates = global_index or []
            creates = [u["Create"]["IndexName"] for u in updates if u.get("Create")]
            deletes = [u["Delete"]["IndexName"] for u in updates if u.get("Delete")]
            problem = check_index_operations(table, creates, deletes)
            if problem == ONE_ONLINE_INDEX:
                raise DynamoError("LimitExceededException", problem)
            if problem:
                raise DynamoError("ValidationException", problem)
            billing_mode = args[1] if len(args) > 1 else kwargs.get("billing_mode")
            problem = check_billing_switch(table, billing_mode)
            if problem:
                raise DynamoError("LimitExceededException", problem)
            record_billing_switch(table, billing_mode)
            others = [u for u in updates if u.get("Update")]
            result = original(self, name, attr_definitions, others, *args, **kwargs)
            for u in updates:
                if u.get("Create"):
                    start_create(table, u["Create"])
                if u.get("Delete"):
                    start_delete(table, u["Delete"]["IndexName"])
            return result
    return update


def update_time_to_live(original):
    def update(self, table_name: str, ttl_spec: dict[str, Any]) -> None:
        with DOUBLE.lock:
            if "Enabled" not in ttl_spec or "AttributeName" not in ttl_spec:
                return original(self, table_name, ttl_spec)
            table = self.get_table(table_name)
            problem = check_ttl(table, bool(ttl_spec["Enabled"]), ttl_spec["AttributeName"])
            if problem:
                raise DynamoError("ValidationException", problem)
            apply_ttl(table, bool(ttl_spec["Enabled"]), ttl_spec["AttributeName"])
    return update


def delete_table(original):
    def delete(self, name: str) -> Table:
        table = self.get_table(name)
        if getattr(table, "deletion_protection_enabled", False):
            raise DynamoError("ValidationException", DELETION_PROTECTED)
        return original(self, name)
    return delete


def stream_shard_add(original: Any) -> Any:
    """A stream record is kept for every reader, a Lambda event-source mapping included.

    moto hands a shard's records to the Lambda functions mapped to the stream and then empties the
    shard (and reuses its sequence numbers). AWS keeps each record for 24 hours whoever reads it:
    "DynamoDB Streams ... stores this information in a log for up to 24 hours. Applications can
    access this log and view the data items as they appeared before and after they were modified"
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html), and a Lambda
    trigger is one more reader of the same shards ("No more than two processes at most should be
    reading from the same streams shard at the same time", ibid.). moto cannot run the Lambda
    without docker anyway, so the double records and does not invoke.
    """
    from moto.dynamodb.models.table import StreamRecord

    def add(self, old, new) -> None:
        view = self.table.stream_specification["StreamViewType"]
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        self.items.append(StreamRecord(self.table, view, event_name, old, new,
                                       len(self.items) + self.starting_sequence_number))

    return add
