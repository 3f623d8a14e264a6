"""Ground tools for the compute token ledger: verify what the node downlinked."""
