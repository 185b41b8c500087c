"""Entry points and wiring: the CLI, process start-up and configuration."""
