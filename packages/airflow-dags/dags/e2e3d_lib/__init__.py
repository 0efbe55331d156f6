"""Helpers of the E2E3D DAGs: object store access, the reconstruction API client, its trigger and operator.

Everything here is imported by DAG files at parse time, so nothing in this package does I/O at import time.
"""
