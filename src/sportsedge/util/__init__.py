"""Plumbing for every layer: atomic file writes, quiet imports, progress lines, the machine's
description and figure saving. Imports only ``core``."""
