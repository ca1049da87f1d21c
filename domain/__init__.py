"""The domain of grid governance: pure models and rules, no I/O, safe in the workflow sandbox."""
