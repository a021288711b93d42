"""Pure pipeline stages: arrays and typed parameters in, arrays out."""
