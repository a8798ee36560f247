"""Worked examples beyond the configs in conf/exp/: the Cu held-out sets."""
