"""Dash component trees, one module per page; ids live in layouts/ids.py."""
