"""Sub-commands of the ``partpoint`` CLI, one module each (discovered automatically)."""
