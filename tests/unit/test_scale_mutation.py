"""The size limit's reading of DescribeTable (migrate/scale.py), where mutation testing found it unpinned
(issue 21): an answer without ItemCount or TableSizeBytes is a size of 0, read without a traceback."""

from __future__ import annotations

from jobwork_infra.migrate.scale import TableSize, read_sizes, refuse_large_copies


class Described:
    def __init__(self, table: dict):
        self.table = table

    def describe_table(self, TableName: str) -> dict:
        return {"Table": {"TableName": TableName, **self.table}}


def test_an_answer_without_the_counts_is_read_as_empty_and_not_refused():
    # DescribeTable documents ItemCount and TableSizeBytes as optional (API_TableDescription.html); an engine
    # that leaves them out (or returns null) must not make read_sizes raise TypeError mid-deploy.
    for table in ({}, {"ItemCount": None, "TableSizeBytes": None}):
        sizes = read_sizes(Described(table), ["shop-prod-users"])
        assert sizes == [TableSize("shop-prod-users", 0, 0)]
        refuse_large_copies(sizes, allow=False, retry="jobwork-infra deploy --env prod --allow-large-copy")


def test_each_count_is_read_on_its_own():
    assert read_sizes(Described({"ItemCount": 7}), ["t"]) == [TableSize("t", 7, 0)]
    assert read_sizes(Described({"TableSizeBytes": 9}), ["t"]) == [TableSize("t", 0, 9)]
