"""The read-only serving API over the published warehouse (DESIGN section 6)."""
