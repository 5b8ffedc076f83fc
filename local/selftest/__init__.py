"""``cvdsr selftest``: prove a deployment end to end on a real resource without touching its data."""
