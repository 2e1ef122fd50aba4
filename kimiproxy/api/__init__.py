"""The HTTP surface: one blueprint per concern."""
