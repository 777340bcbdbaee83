"""Pure rules: no I/O, no framework. Time is always passed in."""
