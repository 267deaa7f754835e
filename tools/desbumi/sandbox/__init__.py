"""A Kobo-compatible sandbox server (KOBO_API.md, "Minimal faithful test server") for tests, the demo
and training: loopback only, seeded from the real instruments, with switchable faults.

    from desbumi.sandbox import SandboxServer, SandboxState
    state = SandboxState.load("sandbox-data")            # after `desbumi-sync sandbox seed --data sandbox-data`
    with SandboxServer(state, faults="502:0.05,reset:0.02", fault_seed=1) as server:
        server.url, server.token                          # http://127.0.0.1:<port>, the owner's token
        server.state.add_submission(uid, answers)         # the field between two pulls (also over HTTP:
        server.state.edit_submission(uid, _id, answers)   #   /__sandbox__/…, see server.py)
        server.state.delete_submission(uid, _id)

Modules: state.py (the model and its data folder), server.py (HTTP: routes, auth, admin routes),
data.py (the data endpoint's query engine), faults.py (seeded fault plans), seed.py (`sandbox seed`).
"""

from .faults import Fault, FaultPlan
from .server import PAGE_MODES, SandboxServer, is_loopback
from .state import (
    OWNER,
    STRANGER,
    VIEWER_ASSET,
    VIEWER_DATA,
    ContentError,
    SandboxError,
    SandboxState,
    content_from_xlsform,
)

__all__ = [
    "OWNER",
    "PAGE_MODES",
    "STRANGER",
    "VIEWER_ASSET",
    "VIEWER_DATA",
    "ContentError",
    "Fault",
    "FaultPlan",
    "SandboxError",
    "SandboxServer",
    "SandboxState",
    "content_from_xlsform",
    "is_loopback",
]
