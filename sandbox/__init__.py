"""Simulators of the external systems, as real servers on loopback with knobs for failure."""

# Which server simulates a partner of each sandbox kind (`python -m sandbox --kind KIND`).
KINDS = {
    "recorder": "sandbox.recorder:Recorder",
    "dcbridge": "sandbox.dcbridge:Bridge",
    "cips": "sandbox.cips:Cips",
    "swift": "sandbox.swift:Swift",
    "customs": "sandbox.customs:SingleWindow",
}
