"""jobwork-infra: a schema compiler for the DynamoDB tables of JobWork Planner."""

__version__ = "0.1.0"
