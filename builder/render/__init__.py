"""Stage 5, render: turn a checked `Program` into in-memory files (path -> bytes).

Nothing here writes to disk; `builder.package` owns that.
"""
