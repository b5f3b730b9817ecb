"""Operating-model schema, validation and compilation to flat parameters."""
