"""The command grammar every adapter shares: parsing, help and dispatch to the use cases."""
