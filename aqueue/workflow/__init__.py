"""Dependencies and composition: ``depends_on=``, chains, groups (docs/workflows.md).

A parent's end is written, in the parent's slot, as "release child X" messages to an
outbox; ``delivery`` hands them to the child's slot with an idempotent script and only
then removes them, so that queues on different cluster nodes need no multi-slot script.
Submodules are imported on use: ``aqueue.options`` imports ``dependency`` early.
"""
