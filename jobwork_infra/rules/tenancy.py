"""Tenant isolation: what the TenantDataAccess policy (LeadingKeys = the tenant) can and cannot limit."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Severity
from .context import Context
from .registry import Finding, rule


@rule("T001", "a tenant-scoped table's partition key is the tenancy attribute", "tenancy",
      note="The partition key is implied when omitted.")
def table_partitioned_by_tenant(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if table.tenant_scoped and table.partition_key not in (None, ctx.tenancy):
            yield Finding(("tables", table_key, "partition_key"),
                          f"{table_key!r} is tenant-scoped but partitioned by {table.partition_key!r}, so one "
                          "tenant's access could not be limited to its own items",
                          f"remove partition_key (it is {ctx.tenancy}) and make {table.partition_key} the "
                          "sort_key, or set tenant_scoped: false on the table")


@rule("T002", "an index not partitioned by the tenancy attribute says tenant_scoped: false "
      "(a warning then: it bypasses isolation)", "tenancy",
      note="An error when the index omits tenant_scoped or claims tenant_scoped: true; a warning when it "
           "says tenant_scoped: false.")
def index_partitioned_by_tenant(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        for name, index in table.global_indexes.items():
            if index.partition_key == ctx.tenancy:
                continue
            path = ("tables", table_key, "global_indexes", name)
            if index.tenant_scoped is True:
                yield Finding(path + ("tenant_scoped",),
                              f"the index {name!r} claims tenant_scoped: true but is partitioned by "
                              f"{index.partition_key!r}, so it cannot be limited to one tenant",
                              f"partition it by {ctx.tenancy}, or say tenant_scoped: false")
            elif not table.tenant_scoped:
                continue
            elif index.tenant_scoped is None:
                yield Finding(path, f"the index {name!r} on the tenant-scoped table {table_key!r} is partitioned "
                              f"by {index.partition_key!r}, so it cannot be limited to one tenant",
                              f"partition it by {ctx.tenancy}, or add tenant_scoped: false if it must cross "
                              "tenants (as a login lookup does)", at="key")
            else:
                yield Finding(path + ("tenant_scoped",),
                              f"the index {name!r} is partitioned by {index.partition_key!r} and crosses tenants "
                              "(tenant_scoped: false): it bypasses tenant isolation",
                              "grant it only to the services that must look across tenants",
                              severity=Severity.WARNING)
