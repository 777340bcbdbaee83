"""The only code that speaks SQL or Redis."""
