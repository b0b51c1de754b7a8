"""Reading and writing files: atomic writes, strict JSON fields."""
