"""The reliability suite: crashes, concurrency, bad input, tenancy, hostile ids, properties."""
