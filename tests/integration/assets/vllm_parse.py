"""Parses and validates rendered vLLM arguments with vLLM's own parser and engine arguments, and
reports what they say about loading the weights: the model reference, the load format, whether
vLLM treats the reference as object storage and which model loader the format selects. It stops
before the engine config, which would fetch the model's files from the bucket."""

from __future__ import annotations

import json
import sys


def main() -> None:
    import vllm.platforms
    from vllm.platforms.cpu import CpuPlatform

    vllm.platforms._current_platform = CpuPlatform()  # no GPU here; the args do not depend on it
    import vllm
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.openai.cli_args import make_arg_parser, validate_parsed_serve_args
    from vllm.model_executor.model_loader import _LOAD_FORMAT_TO_MODEL_LOADER
    from vllm.transformers_utils.runai_utils import is_runai_obj_uri
    from vllm.utils import FlexibleArgumentParser

    report, rendered = sys.argv[1], sys.argv[2:]
    args = make_arg_parser(FlexibleArgumentParser()).parse_args(rendered)
    validate_parsed_serve_args(args)
    engine = AsyncEngineArgs.from_cli_args(args)
    loader = _LOAD_FORMAT_TO_MODEL_LOADER.get(engine.load_format)
    with open(report, "w") as f:
        json.dump(
            {
                "vllm": vllm.__version__,
                "model": engine.model,
                "load_format": engine.load_format,
                "object_storage": is_runai_obj_uri(engine.model),
                "loader": loader.__name__ if loader else None,
            },
            f,
        )


if __name__ == "__main__":
    main()
