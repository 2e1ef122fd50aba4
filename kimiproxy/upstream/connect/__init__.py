"""The ``connect`` protocol client: Kimi's Connect RPC API (www.kimi.com)."""
