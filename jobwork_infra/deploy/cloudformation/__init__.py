"""The CloudFormation target: template.py (pure) → read.py (read-only) → stack.py (a stack and the one
change-set runner) → adopt.py → target.py (`CloudFormationTarget`). docs/architecture.md."""
