"""Servers over a Memory: `hippograph serve` (REST, FastAPI) and `hippograph mcp` (the MCP SDK).

Both are thin layers: they check a request, call `Memory` through a `MemoryPool` and shape the
reply; what a memory does is decided in `Memory`, never here.
"""
