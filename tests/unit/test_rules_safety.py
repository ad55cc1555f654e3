"""The key, index and tenancy rules at their edges (issue 21: mutants of rules/ that survived).

The bad fixtures (tests/unit/test_rules.py) show each rule firing once; these pin where each rule stops:
the exact limits, which attributes count as keys, when the tenancy exemptions apply, and each
finding's severity.
"""

from __future__ import annotations

import yaml

from jobwork_infra.errors import Severity
from jobwork_infra.project import check_project

E, W = Severity.ERROR, Severity.WARNING


def findings(tables: dict, codes: str = "KIT") -> list[tuple[str, tuple, Severity]]:
    """(code, path, severity) of the K/I/T findings for a schema of `tables` in one environment."""
    text = yaml.safe_dump({"version": 1, "app": "rules", "environments": {"dev": {}}, "tables": tables},
                          sort_keys=False)
    project = check_project("rules.yaml", text=text)
    return [(d.code, d.path, d.severity) for d in project.diagnostics if d.code[0] in codes]


def table(**fields) -> dict:
    return {"sort_key": "s", "attributes": {"s": "string", "a": "string", "b": "string", "c": "string"}, **fields}


# -- keys --------------------------------------------------------------------------------------

def test_a_declared_key_is_fine_and_an_undeclared_one_is_k101():
    assert findings({"t": table()}) == []
    assert findings({"t": table(sort_key="nope")}) == [("K101", ("tables", "t", "sort_key"), E)]


def test_a_list_key_is_k102_on_a_tenant_scoped_table_too():
    assert findings({"t": table(attributes={"s": "list"})}) == [("K102", ("tables", "t", "sort_key"), E)]


def test_the_tenancy_attribute_as_a_key_of_an_unscoped_table_is_checked_as_any_key():
    unscoped = {"tenant_scoped": False, "partition_key": "tenant_id", "attributes": {"tenant_id": "list"}}
    assert findings({"t": unscoped}) == [("K102", ("tables", "t", "partition_key"), E)]


def test_the_tenancy_attribute_of_a_scoped_table_is_k103_not_k102():
    assert findings({"t": table(attributes={"s": "string", "tenant_id": "number"})}) == [
        ("K103", ("tables", "t", "attributes", "tenant_id"), E)]
    assert findings({"t": table(attributes={"s": "string", "tenant_id": "uuid"})}) == []
    unscoped = {"tenant_scoped": False, "partition_key": "s", "attributes": {"s": "string", "tenant_id": "number"}}
    assert findings({"t": unscoped}) == []


def test_partition_and_sort_key_must_differ():
    assert findings({"t": {"tenant_scoped": False, "partition_key": "a", "sort_key": "b",
                           "attributes": {"a": "string", "b": "string"}}}) == []
    assert findings({"t": {"tenant_scoped": False, "partition_key": "a", "sort_key": "a",
                           "attributes": {"a": "string"}}}) == [("K104", ("tables", "t", "sort_key"), E)]


# -- index limits ------------------------------------------------------------------------------

def _gsis(count: int) -> dict:
    return {f"g{n}": {"partition_key": "tenant_id", "sort_key": "a"} for n in range(count)}


def test_twenty_global_indexes_are_allowed_twenty_one_are_not():
    assert findings({"t": table(global_indexes=_gsis(20))}) == []
    # A warning since issue 20: AWS's default quota, which an account can have raised.
    assert findings({"t": table(global_indexes=_gsis(21))}) == [("I101", ("tables", "t", "global_indexes"), W)]


def test_five_local_indexes_are_allowed_six_are_not():
    attributes = {"s": "string", **{f"x{n}": "string" for n in range(6)}}
    lsis = {f"l{n}": {"sort_key": f"x{n}"} for n in range(6)}
    five = dict(list(lsis.items())[:5])
    assert findings({"t": table(attributes=attributes, local_indexes=five)}) == []
    assert findings({"t": table(attributes=attributes, local_indexes=lsis)}) == [
        ("I102", ("tables", "t", "local_indexes"), E)]


def test_a_local_index_needs_a_sort_key_on_the_table():
    lsi = {"l": {"sort_key": "a"}}
    assert findings({"t": table(local_indexes=lsi)}) == []
    assert findings({"t": {"attributes": {"a": "string"}, "local_indexes": lsi}}) == [
        ("I103", ("tables", "t", "local_indexes", "l"), E)]


def test_a_local_index_sorting_by_a_table_key_is_i104():
    assert findings({"t": table(local_indexes={"l": {"sort_key": "s"}})}) == [
        ("I104", ("tables", "t", "local_indexes", "l", "sort_key"), W)]  # AWS accepts it: a warning
    assert findings({"t": table(local_indexes={"l": {"sort_key": "tenant_id"}})}) == [
        ("I104", ("tables", "t", "local_indexes", "l", "sort_key"), E)]


def test_a_name_both_global_and_local_is_i105():
    t = table(global_indexes={"x": {"partition_key": "tenant_id", "sort_key": "a"}},
              local_indexes={"x": {"sort_key": "b"}, "y": {"sort_key": "c"}})
    assert findings({"t": t}) == [("I105", ("tables", "t", "local_indexes", "x"), E)]


# -- include projections -----------------------------------------------------------------------

def _projecting(*lists: list[str]) -> dict:
    attributes = {"s": "string", **{f"p{n}": "string" for n in range(120)}}
    return table(attributes=attributes, global_indexes={
        f"g{n}": {"partition_key": "tenant_id", "sort_key": "s", "projection": names} for n, names in enumerate(lists)})


def test_one_hundred_projected_attributes_per_table_are_allowed_one_more_is_not():
    names = [f"p{n}" for n in range(101)]
    assert findings({"t": _projecting(names[:60], names[60:100])}) == []
    assert findings({"t": _projecting(names[:60], names[60:101])}) == [
        ("I106", ("tables", "t", "global_indexes", "g1", "projection"), E)]


def test_keys_of_the_table_and_of_the_index_may_not_be_projected():
    t = table(attributes={"s": "string", "a": "string", "b": "string", "c": "string"},
              global_indexes={"g": {"partition_key": "a", "sort_key": "b", "tenant_scoped": False,
                                    "projection": ["tenant_id", "s", "a", "b", "c"]}})
    path = ("tables", "t", "global_indexes", "g", "projection")
    assert findings({"t": t}, "I") == [("I107", path + (i,), W) for i in range(4)]  # projected anyway


def test_a_local_index_projection_may_not_list_its_sort_key():
    t = table(local_indexes={"l": {"sort_key": "a", "projection": ["a", "b"]}})
    assert findings({"t": t}) == [("I107", ("tables", "t", "local_indexes", "l", "projection", 0), W)]


def test_an_empty_or_repeated_projection_is_i107():
    assert findings({"t": _projecting([])}) == [("I107", ("tables", "t", "global_indexes", "g0", "projection"), E)]
    assert findings({"t": _projecting(["p1", "p2", "p1"])}) == [
        ("I107", ("tables", "t", "global_indexes", "g0", "projection", 2), E)]


def test_an_undeclared_projected_attribute_is_a_warning_with_a_suggestion():
    t = _projecting(["p1", "p200", "tenant_id"])
    assert findings({"t": t}, "I") == [
        ("I108", ("tables", "t", "global_indexes", "g0", "projection", 1), W),
        ("I107", ("tables", "t", "global_indexes", "g0", "projection", 2), W)]
    [i108] = [d for d in check_project("r.yaml", text=yaml.safe_dump({
        "version": 1, "app": "rules", "environments": {"dev": {}}, "tables": {"t": t}})).diagnostics
        if d.code == "I108"]
    assert i108.hint == "did you mean 'p20'?"
    [far] = [d for d in check_project("r.yaml", text=yaml.safe_dump({
        "version": 1, "app": "rules", "environments": {"dev": {}}, "tables": {"t": _projecting(["zzzz"])}})).diagnostics
        if d.code == "I108"]
    assert far.hint == "declare it under tables.t.attributes"


# -- tenancy -----------------------------------------------------------------------------------

def test_a_tenant_scoped_table_is_partitioned_by_the_tenancy_attribute():
    assert findings({"t": table(partition_key="tenant_id")}) == []
    assert findings({"t": table(partition_key="a")}) == [("T001", ("tables", "t", "partition_key"), E)]
    assert findings({"t": table(partition_key="a", tenant_scoped=False)}) == []


def test_an_index_partitioned_by_the_tenant_is_fine_whatever_it_says():
    for scoped in (None, True, False):
        index = {"partition_key": "tenant_id", "sort_key": "a",
                 **({"tenant_scoped": scoped} if scoped is not None else {})}
        assert findings({"t": table(global_indexes={"g": index})}, "T") == [], scoped


def test_an_index_partitioned_otherwise_on_a_scoped_table():
    path = ("tables", "t", "global_indexes", "g")
    cases = {None: [("T002", path, E)], True: [("T002", path + ("tenant_scoped",), E)],
             False: [("T002", path + ("tenant_scoped",), W)]}
    for scoped, want in cases.items():
        index = {"partition_key": "a", **({"tenant_scoped": scoped} if scoped is not None else {})}
        assert findings({"t": table(global_indexes={"g": index})}, "T") == want, scoped


def test_an_index_on_an_unscoped_table_is_checked_only_when_it_claims_to_be_scoped():
    for scoped, want in ((None, []), (False, []),
                         (True, [("T002", ("tables", "t", "global_indexes", "g", "tenant_scoped"), E)])):
        index = {"partition_key": "a", **({"tenant_scoped": scoped} if scoped is not None else {})}
        t = table(partition_key="s", sort_key="b", tenant_scoped=False, global_indexes={"g": index})
        assert findings({"t": t}, "T") == want, scoped
