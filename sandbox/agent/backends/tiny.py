"""A tiny, randomly initialised causal LM built locally, for smoke tests and benchmarks.

It exercises the real transformers loading and generation path (config, tokenizer
files, ``from_pretrained``, ``generate``) in milliseconds and without any download.
Its text is noise: use it to test plumbing, never behaviour.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CORPUS", "build_tiny_causal_lm"]

CORPUS = [
    "Hello, how are you today?",
    "I have been feeling a bit tired since I started the new job.",
    "Tell me something kind about the weather.",
    "User: what should I cook tonight? Assistant: maybe a warm soup.",
    "We talked about your sister and the trip to the coast last week.",
    "Please forget what I told you about my account number.",
    "The quick brown fox jumps over the lazy dog.",
]


def build_tiny_causal_lm(
    out: Path | str,
    chat_template: str | None = None,
    n_positions: int = 128,
    seed: int = 0,
) -> Path:
    """Write a 2-layer GPT-2 (~130k parameters) and a byte-level BPE tokenizer to `out`.

    Args:
        out: Folder to create (or fill).
        chat_template: Jinja chat template to give the tokenizer; None for a base model.
        n_positions: Context window, small on purpose so truncation paths get exercised.
        seed: Seed of the random weights.

    Returns:
        The folder, loadable with ``AutoModelForCausalLM.from_pretrained``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(CORPUS, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    if chat_template:
        tok.chat_template = chat_template
    cfg = GPT2Config(
        vocab_size=len(tok),
        n_positions=n_positions,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(cfg)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path)
        tok.save_pretrained(path)
    finally:
        hf_logging.enable_progress_bar()
    return path
