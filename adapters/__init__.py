"""Platform adapters: each parses its platform's input, calls the core and renders its messages."""
