"""The ``rest`` protocol client: Kimi's REST endpoints and Server-Sent Events."""
