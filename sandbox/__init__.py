"""Simulators of the external systems, as real servers on loopback with knobs for failure."""

# Which server simulates a partner of each sandbox kind (`python -m sandbox --kind KIND`).
KINDS = {
    "recorder": "sandbox.recorder:Recorder",
    "dcbridge": "sandbox.dcbridge:Bridge",
    "cips": "sandbox.cips:Cips",
    "swift": "sandbox.swift:Swift",
    "customs": "sandbox.customs:SingleWindow",
    "carrier-intl": "sandbox.carriers:IntlExpress",
    "carrier-domestic": "sandbox.carriers:DomesticExpress",
    "carrier-ocean": "sandbox.carriers:OceanForwarder",
    "bureau-a": "sandbox.bureaus:BureauA",
    "bureau-b": "sandbox.bureaus:BureauB",
    "soap-lc-bank": "sandbox.soap_partners:LetterOfCreditBank",
    "soap-eci": "sandbox.soap_partners:ExportCreditInsurer",
}
