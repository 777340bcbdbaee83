"""Makes `tests` our package (azure-functions-durable installs a top-level `tests` too)."""
