"""The reliability suite: what a store and its doors do under crashes, concurrency, bad input,
other tenants and hostile ids, beyond the happy paths of the other tests.

- test_crashes.py: kill -9 in ingest, add, delete and import (`--fault-seeds N` kill points each);
- test_concurrency.py: writer processes and a reader on one store at once;
- test_bad_input.py, test_rest_attack.py, test_mcp_attack.py: bad input through every door;
- test_tenancy.py (and tests/test_namespaces.py for the Python door): no namespace reaches another;
- test_hostile_ids.py: ids and texts that mean something to SQL or Cypher, on both stores;
- test_properties.py: random sequences of writes keep the store whole (hypothesis);
- test_graph_server_faults.py: the Bolt server killed and restarted mid-ingest and mid-query.

Tampered export files are refused by the import checks: tests/test_transfer.py.
"""
