"""Platform-neutral core of smarter-bot: domain, storage, use cases and presentation."""
