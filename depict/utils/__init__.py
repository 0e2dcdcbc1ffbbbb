"""Utilities that must not import mmseg's models (they run before it)."""
