"""Console adapter: one terminal acts as any user in any channel, interactively or from a transcript."""
