"""Deployment: the nginx config template and the local production stack (stack.py)."""
