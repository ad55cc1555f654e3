"""How large a table the CLI copy takes on: past the limit, deploy refuses the migration (R027) and
names the way forward (docs/migrate.md, "Scale: Export to S3 + ImportTable").

The copy must end, and its catch-up start, well within the 24 hours a stream keeps its records
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html): a copy that
outlives them cannot catch up and starts over. At the few thousand items a second a CLI copy
reaches, 50 million items or 50 GB is several hours; beyond that the copy is AWS's own engine's job
(ExportTableToPointInTime + ImportTable), which this tool designs but has not built.

The size is DescribeTable's `ItemCount` and `TableSizeBytes`, which "DynamoDB updates … approximately
every six hours" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html):
a table that grew in the last hours may pass under the limit; the prescan then counts exactly.
No boto3 here: diff imports the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ITEMS = 50_000_000            # items the CLI copy takes on
MAX_BYTES = 50 * 1000 ** 3        # 50 GB (TableSizeBytes)
LIMIT_TEXT = "50 GB or 50 million items"


@dataclass(frozen=True)
class TableSize:
    name: str
    items: int
    bytes: int

    @property
    def too_large(self) -> bool:
        return self.items > MAX_ITEMS or self.bytes > MAX_BYTES

    def show(self) -> str:
        return f"{self.name}: about {self.items:,} items, {self.bytes / 1000 ** 3:,.1f} GB"


def read_sizes(client: Any, names: list[str]) -> list[TableSize]:
    """The size DescribeTable reports for each table that exists (a table gone is check_live's to report)."""
    from botocore.exceptions import ClientError

    sizes = []
    for name in names:
        try:
            table = client.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise
        sizes.append(TableSize(name, int(table.get("ItemCount") or 0), int(table.get("TableSizeBytes") or 0)))
    return sizes


def refuse_large_copies(sizes: list[TableSize], *, allow: bool, retry: str) -> None:
    """Refused (R027, exit 3, nothing changed) when a migration's source is over the limit, unless `allow`;
    `retry` is the command that runs the deploy again with --allow-large-copy."""
    from ..deploy.gate import Refused

    large = [s for s in sizes if s.too_large]
    if not large or allow:
        return
    raise Refused(
        "R027",
        f"the migration would copy {'; '.join(s.show() for s in large)} — over the {LIMIT_TEXT} the CLI copy "
        "takes on: it would run for hours and must end within the 24 h the stream keeps its records; nothing "
        "was changed",
        f"rerun with --allow-large-copy to copy it from this machine anyway (`{retry}`; "
        "resumable from its checkpoint; run it close to the table, with write capacity to spare), or keep the "
        "generation as it is for now: the path for tables this size (ExportTableToPointInTime, then ImportTable "
        "into the new generation) is designed in docs/migrate.md, \"Scale\", not built yet")
