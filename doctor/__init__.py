"""trtllm-doctor: checks a machine for NVIDIA TensorRT-LLM and explains its error logs."""

__version__ = "0.1.0"
