"""Wire formats: how each API surface reads its requests and writes its answers."""
