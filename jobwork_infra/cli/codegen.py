"""`codegen`: the application's tenant-bound data layer, generated from the schema."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..project import check_project
from . import EXIT_FAILED, SCHEMA_DEFAULT, SchemaOption, app, stderr, stdout


class Language(str, Enum):
    python = "python"


@app.command()
def codegen(
    language: Annotated[Language, typer.Argument(help="The language to generate.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="The package directory; its last part is the package's import name.")],
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 when the package is stale or was edited by hand.")] = False,
    schema: SchemaOption = SCHEMA_DEFAULT,
) -> None:
    """Generate the data layer: pydantic items and tenant-bound repositories (boto3 underneath).

    TenantData(tenant_id, client=..., env=...) has one repository per tenant-scoped table with
    get/put/delete and one method per access pattern; CrossTenantData(client=..., env=...) holds
    shared tables and the patterns on indexes marked tenant_scoped: false. The schema's hash is
    stamped in; --check exits 0 when the package matches the schema, 1 when it does not.
    See docs/codegen.md.

    Example: jobwork-infra codegen python --out src/jobwork_data --check
    """
    from ..codegen import check as check_package
    from ..codegen import generate, package_name
    from ..codegen import write as write_package

    package = package_name(out)
    project = check_project(schema).require_valid()
    api, files = generate(project.schema, Path(schema).name, package)
    if check:
        result = check_package(files, out, api.hash)
        if result.ok:
            stdout.print(f"{out} is up to date with {schema} (schema hash {api.hash[:12]})", markup=False)
            return
        stale = "stale" if result.stale else "edited by hand"
        stderr.print(f"{out} is {stale}:", markup=False)
        for difference in result.differences:
            stderr.print(f"  {difference}", markup=False)
        stderr.print(f"  hint: run jobwork-infra codegen {language.value} --out {out}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    written, removed = write_package(files, out, schema=Path(schema))
    what = f"{len(written)} file{'' if len(written) == 1 else 's'} written"
    if removed:
        what += f", {len(removed)} removed ({', '.join(removed)})"
    stdout.print(f"package {package} in {out}: {what}; {len(api.tenant)} tenant-bound repositories, "
                 f"{len(api.cross)} cross-tenant (schema hash {api.hash[:12]})", markup=False)
