"""Turn a generation request into chat messages, the same way for every model backend.

Local models and remote endpoints must see identical prompts for a given request;
otherwise a difference in findings between two backends could come from prompt
assembly rather than from the model. The composed context parts become one system
message (each under its component's name, so a reader of the run record can tell
which component contributed what), this session's history follows, then the user's
message.
"""

from __future__ import annotations

from sandbox.contracts import GenerationRequest

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ChatMessage", "build_messages", "plain_prompt"]

ChatMessage = dict[str, str]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful, caring assistant talking with one user over many sessions. Answer briefly."
)

_ROLE = {"user": "user", "agent": "assistant"}


def _system_text(system_prompt: str, request: GenerationRequest) -> str:
    parts = [system_prompt.strip()] if system_prompt.strip() else []
    for part in request.context:
        text = part.text.strip()
        if text:
            parts.append(f"[{part.component}]\n{text}")
    return "\n\n".join(parts)


def build_messages(
    request: GenerationRequest,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    drop_history: int = 0,
) -> list[ChatMessage]:
    """Chat messages for `request`: system (prompt + context), history, user message.

    Args:
        request: What the agent composed for this turn.
        system_prompt: Instructions placed before the context parts.
        drop_history: How many of the oldest history messages to leave out; backends
            with a short context window drop old turns before cutting anything else.

    Returns:
        OpenAI-style ``{"role", "content"}`` dicts.
    """
    history = list(request.history)
    # The agent may already have appended the current message to the history.
    if history and history[-1].role == "user" and history[-1].text == request.message:
        history.pop()
    history = history[drop_history:]
    messages: list[ChatMessage] = []
    system = _system_text(system_prompt, request)
    if system:
        messages.append({"role": "system", "content": system})
    for m in history:
        messages.append({"role": _ROLE[m.role], "content": m.text})
    messages.append({"role": "user", "content": request.message})
    return messages


def plain_prompt(messages: list[ChatMessage]) -> str:
    """A transcript-style prompt for models without a chat template.

    The prompt ends with ``Assistant:`` so a base model continues as the assistant;
    generation stops where it starts a new ``User:`` line.
    """
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    lines = [f"{names[m['role']]}: {m['content']}" for m in messages]
    return "\n".join([*lines, "Assistant:"])
