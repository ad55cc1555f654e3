"""jobwork-infra: a schema compiler for the DynamoDB tables of JobWork Planner."""

__version__ = "0.1.0"

# The schema every command reads unless told otherwise (the CLI looks for it up the directory tree).
DEFAULT_SCHEMA = "schema/tables.yaml"
