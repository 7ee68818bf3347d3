"""Shared console layouts, components and static assets."""
