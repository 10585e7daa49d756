"""Atomic, strict-JSON file writing: kept here for existing imports; it lives in ``tfdpfair.files`` (any layer may
write files)."""
from tfdpfair.files import atomic_path, dumps, json_safe, write_bytes, write_json, write_text  # noqa: F401
