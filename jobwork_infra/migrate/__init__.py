"""Filling generation N of a table from generation N-1 (docs/migrate.md), in four stages:

    prescan (keys.py)      every item has the new key, and no two share it — or the copy is refused
    copy (copy.py)         a parallel Scan of N-1 written to N as is, a checkpoint per segment
    catch-up (catchup.py)  N-1's stream replayed in order after the copy: writes made meanwhile land
    verify (verify.py)     both generations compared item for item (per-item hash, by key)

`run.py` drives them over one checkpoint (checkpoint.py). These modules import boto3 (through the
clients they are given); validate and diff never import them.
"""
