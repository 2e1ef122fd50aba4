"""The emulator's ``rest`` protocol endpoints."""
