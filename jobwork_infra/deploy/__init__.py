"""Deploy a plan: to CloudFormation (cloudformation.py) or to a local engine (local.py, engine.py)."""
