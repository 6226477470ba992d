"""Terminal replay of runs: transcripts with retrievals, memory traffic and findings in place.

Modules: `sanitize` (untrusted text to safe rich Text), `blocks` (group a stream into
turns), `render` (turns to rich renderables), `player` (stream, filter, pace, follow),
`explain` / `explain_view` (a finding's chain), `memory_view` (store state per session),
`summary_view` / `runs` (``sandbox list`` and ``show``), `output` (pager or plain).
"""
