"""The run record: versioned events, an append-only writer, a streaming reader."""

from sandbox.record.events import SCHEMA_VERSION, Event, parse_event
from sandbox.record.reader import ReadReport, iter_events, list_runs, read_header, read_summary
from sandbox.record.writer import (
    InvalidRunIdError,
    RunExistsError,
    RunFolderError,
    RunWriter,
    check_run_id,
    write_json_atomic,
)

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "InvalidRunIdError",
    "ReadReport",
    "RunExistsError",
    "RunFolderError",
    "RunWriter",
    "check_run_id",
    "iter_events",
    "list_runs",
    "parse_event",
    "read_header",
    "read_summary",
    "write_json_atomic",
]
