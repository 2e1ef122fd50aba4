"""The emulator's ``connect`` protocol endpoints."""
