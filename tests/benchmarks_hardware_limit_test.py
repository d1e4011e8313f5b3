"""benchmarks/hardware_limit.py counts the work from the sizes: checked against the weights of real models."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "benchmarks"))

import hardware_limit  # noqa: E402
import report  # noqa: E402

from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402


def matrix_weights(backbone):
    """Weights used once per token in a multiply-add: the LSTM kernels, counted from the built layers."""
    return sum(
        int(variable.numpy().size)
        for variable in backbone.trainable_variables
        if variable.path.endswith("/kernel") or variable.path.endswith("recurrent_kernel")
    )


@pytest.mark.parametrize("sizes", [(50, 8, 12, 3), (70, 16, 24, 2), (30, 6, 6, 1)])
def test_the_work_is_the_models_multiply_adds(sizes):
    vocabulary_size, embedding_dim, hidden_dim, num_layers = sizes
    backbone = AWDLSTMBackbone(vocabulary_size, embedding_dim, hidden_dim, num_layers, seed=0)
    model = ULMFiTLanguageModel(backbone)
    lstm = matrix_weights(backbone)
    assert lstm == hardware_limit.lstm_weights(embedding_dim, hidden_dim, num_layers) > 0
    decoder = backbone.token_embedding.embeddings.numpy().size  # tied: the decoder reads the embedding matrix
    assert model.count_params() > lstm + decoder  # biases and the decoder's bias are left out
    assert hardware_limit.lm_step_flops(vocabulary_size, embedding_dim, hidden_dim, 4, 5, num_layers) == (
        3 * 2 * (lstm + decoder) * 4 * 5
    )
    assert hardware_limit.classifier_flops(embedding_dim, hidden_dim, 7, num_layers) == 2 * lstm * 7


def test_the_papers_lm_step_is_433_gflop():
    # The figure the speed issue quotes for batch 32 x bptt 70 at emb 400, hidden 1152, 30,000 pieces.
    assert round(hardware_limit.lm_step_flops(30000, 400, 1152, 32, 70) / 1e9) == 433


@pytest.mark.parametrize("torch_threads", [None, 1])
def test_the_peak_is_a_positive_rate(torch_threads):
    # With torch threads (where the bench extra is installed) torch.matmul's rate is measured too.
    assert hardware_limit.gemm_peak(rounds=1, torch_threads=torch_threads) > 1e8


def test_a_run_with_more_torch_threads_has_its_own_section():
    # The headings of BENCHMARKS.md's sections, as hardware_limit.py and lm_train_throughput.py write them.
    assert report.with_torch_threads("How far from the hardware", 1) == "How far from the hardware"
    assert report.with_torch_threads("Language model training step", 2) == (
        "Language model training step (PyTorch 2 threads)"
    )
