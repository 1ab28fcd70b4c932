"""The shell: the `sendx` CLI, the `sendx run` supervisor, the AsyncAPI renderer; may import every
layer, nothing imports it."""
