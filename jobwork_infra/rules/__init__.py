"""Rules over a modelled schema. (Placeholder until the rules land: checks nothing yet.)"""

from __future__ import annotations

from ..errors import Diagnostic
from ..load import Document
from ..model import SchemaFile


def check(document: Document, schema: SchemaFile) -> list[Diagnostic]:
    return []
