"""The pure core: plain functions of plain data, no I/O (tested without any server)."""
