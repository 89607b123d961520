"""The biometric engine: model manifest and loading, detect/align/embed, quality gate,
template protection and the erasable ANN index.

It imports nothing else of optinface, so it can be audited and benchmarked on its own.
"""

import os

# onnxruntime's Linux wheels (1.32) record usage events (the process, each session, a device
# id) in ~/.cache/Microsoft/DeveloperTools and $TMPDIR/.ses, for upload to Microsoft whenever
# a network is there. A biometric system sends nothing to a third party, and this one writes
# nothing outside its own folders: the switch is read once, when onnxruntime is imported, and
# every module that imports it lives in this package, so it is set here, before them.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
