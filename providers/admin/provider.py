"""ProviderConfig admin (being written)."""
