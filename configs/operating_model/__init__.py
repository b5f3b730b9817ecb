"""Hydra config files (YAML); a package only so they install with lora-tco."""
