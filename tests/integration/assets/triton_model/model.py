"""Triton Python-backend model for the tests: OUTPUT = INPUT @ W, W a fixed 4x2 matrix.

Its config's parameters say how loading goes: ``load_seconds`` of delay, ``fail`` ("true") to
raise instead, and ``loaded_marker``, a file written once initialize has finished.
"""

import json
import time
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        time.sleep(float(params.get("load_seconds", "0")))
        if params.get("fail") == "true":
            raise RuntimeError("the tiny model is set to fail loading")
        self.weights = np.arange(8, dtype=np.float32).reshape(4, 2)
        Path(params["loaded_marker"]).write_text("loaded")

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            out = pb_utils.Tensor("OUTPUT", (x @ self.weights).astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
