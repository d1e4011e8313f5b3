"""The names the API and the command line accept, in one place.

A module of plain tuples, importable without TensorFlow, so `ulmfit-tf
--help` lists them without loading it; `distribute` and `export` validate
their arguments against the same tuples.
"""

# `ulmfit_tf.distribute.make_strategy`.
STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")
# Keras' dtype policies the stages train under.
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
# `ulmfit_tf.export.export_tflite(quantization=...)`.
QUANTIZATIONS = ("none", "float16", "dynamic_int8", "int8")
# `ulmfit_tf.export.export_tflite(target=...)`: LiteRT with tensorflow-text's ops, or MediaPipe Tasks as they are.
TFLITE_TARGETS = ("litert", "mediapipe")
# `ULMFiTTextClassifier(problem_type=...)` and `ulmfit-tf fit-classifier --problem-type`.
PROBLEM_TYPES = ("single_label", "multi_label", "regression")
