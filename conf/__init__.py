"""Hydra configuration tree of raygen (shipped as package data)."""
