"""Tool (function) calling on top of a chat that has none."""
