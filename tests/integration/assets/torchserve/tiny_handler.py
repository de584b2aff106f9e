"""TorchServe handler of the tiny model, answering the request contract of seed 000's T5 handler.

That handler (GoogleCloudPlatform/kubernetes-engine-samples ai-ml/t5-model-serving/model/handler.py
@313f7451) reads ``text``, ``from`` and ``to`` from the JSON body and looks both languages up in
its map of ro, fr, de and en, so any other code fails the request. This one checks the same, then
runs the Linear layer on four numbers taken from the prompt.

``behaviour.json`` in the archive says how loading goes: ``load_seconds`` of delay, ``fail`` to
raise instead of loading, and ``loaded_marker``, a file written once loading is done.
"""

import json
import os
import time
from pathlib import Path

import torch
from ts.torch_handler.base_handler import BaseHandler

T5_LANGUAGES = {"ro": "Romanian", "fr": "French", "de": "German", "en": "English"}


class TinyHandler(BaseHandler):
    def initialize(self, context):
        model_dir = context.system_properties.get("model_dir")
        behaviour = json.loads(Path(model_dir, "behaviour.json").read_text())
        time.sleep(float(behaviour.get("load_seconds", 0)))
        if behaviour.get("fail"):
            raise RuntimeError("the tiny model is set to fail loading")
        super().initialize(context)
        Path(behaviour["loaded_marker"]).write_text(str(os.getpid()))

    def preprocess(self, data):
        rows = []
        for row in data:
            body = row.get("body") or row.get("data")
            if isinstance(body, (bytes, bytearray)):
                body = json.loads(body)
            prompt = f"translate {T5_LANGUAGES[body['from']]} to {T5_LANGUAGES[body['to']]}: {body['text']}"
            rows.append([len(prompt), prompt.count(" "), ord(prompt[0]), ord(prompt[-1])])
        return torch.tensor(rows, dtype=torch.float32)

    def postprocess(self, data):
        return [{"text": " ".join(f"{v:.3f}" for v in row)} for row in data.tolist()]
