"""The local-engine target: engine.py (the servers) → client.py → registry.py → live.py, adopt.py,
steps.py → target.py (`LocalTarget`). docs/architecture.md."""
