"""Renderers: findings (text, json, github, sarif) and changes (text, json, markdown)."""
