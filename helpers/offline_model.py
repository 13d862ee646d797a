"""A deterministic offline model: no key, no network; it says it is offline and can call tools.

Token counts are approximate (about 4 characters a token), and are marked as such.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import (
    ChatGeneration,
    ChatGenerationChunk,
    ChatResult,
    Generation,
    GenerationChunk,
    LLMResult,
)
from langchain_core.utils.function_calling import convert_to_openai_tool

PREFIX = "[offline model]"
MODEL_NAME = "offline-deterministic"
CHARS_PER_TOKEN = 4

_OPENERS = [
    "Here is a thought on",
    "A short answer about",
    "Consider this about",
    "An offline take on",
]


def approx_tokens(text: str) -> int:
    """About 4 characters a token: close enough to compare runs, not to bill them."""
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def _usage(prompt: str, answer: str) -> dict[str, int]:
    inp, out = approx_tokens(prompt), approx_tokens(answer)
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


def compose_text(prompt: str, temperature: float) -> str:
    """The same prompt and temperature always give the same text."""
    digest = int(hashlib.sha256(f"{prompt}|{temperature:.3f}".encode()).hexdigest(), 16)
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    subject = lines[0] if lines else "your prompt"
    if len(lines) > 1:
        subject = next((ln for ln in reversed(lines) if not ln.endswith(":")), lines[-1])
    subject = subject[:160]
    opener = _OPENERS[digest % len(_OPENERS)]
    if drifts(digest, temperature):
        subject = _DRIFTS[(digest >> 16) % len(_DRIFTS)]
    extra = " It would say more with a real model." if temperature >= 0.5 else ""
    if "detail" in prompt.lower():  # a prompt asking for detail gets a longer answer
        extra += " In more detail: it is offline, so every detail here is made up."
    return f"{PREFIX} {opener} \"{subject}\".{extra}"


_DRIFTS = ["something else entirely", "a different subject", "the weather, for some reason"]


def drifts(digest: int, temperature: float) -> bool:
    """A hotter model strays from the subject more often: never at 0, about half the time at 1."""
    chance = min(0.9, max(0.0, temperature) * 0.5)
    return (digest >> 8) % 1000 < chance * 1000


def _number_after(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.IGNORECASE)
    return match.group(1) if match else None


def plan_next_step(question: str, observations: list[str], tool_names: list[str],
                   temperature: float = 0.0) -> tuple[str, str] | str:
    """The agent's next move: (tool, input) to call a tool, or the final answer text.

    A hotter model sometimes skips the calculator and answers too early (deterministically).
    """
    search = next((t for t in tool_names if "search" in t.lower()), None)
    calc = next((t for t in tool_names if "calc" in t.lower() or "math" in t.lower()), None)
    if calc and drifts(int(hashlib.sha256(f"{question}|{temperature:.3f}".encode()).hexdigest(), 16), temperature):
        calc = None
    if search and not observations:
        return search, question.split("?")[0].strip() or question
    exponent = _number_after(r"power of\s*([0-9.]+)", question)
    if calc and exponent and len(observations) == 1:
        age = _number_after(r"\b(\d{2,3}) years? old", observations[0]) or _number_after(r"\b(\d{2,3})\b", observations[0])
        if age:
            return calc, f"{age} ** {exponent.rstrip('.')}"
    found = observations[0] if observations else "I have no search results."
    answer = f"{PREFIX} {found}"
    if len(observations) > 1:
        answer += f" Raised to the power of {exponent}, the age gives {observations[1]}."
    return answer


def shorten(text: str, stop: list[str] | None, max_tokens: int | None) -> tuple[str, str]:
    """text cut at the first stop sequence and at about max_tokens tokens, and the finish reason."""
    for sequence in stop or []:
        if sequence and sequence in text:
            text = text[: text.index(sequence)]
    if max_tokens is not None and approx_tokens(text) > max_tokens:
        return text[: max(1, max_tokens) * CHARS_PER_TOKEN], "length"
    return text, "stop"


def _is_react_prompt(prompt: str) -> bool:
    return "Action Input:" in prompt and "Thought:" in prompt


def _is_judge_prompt(prompt: str) -> bool:
    return "<output>" in prompt and "Score: N" in prompt


def _tagged(prompt: str, tag: str) -> str:
    match = re.search(f"<{tag}>(.*?)</{tag}>", prompt, re.DOTALL)
    return match.group(1).strip() if match else ""


def judge_reply(prompt: str) -> str:
    """A deterministic stand-in for an LLM judge: string similarity of <output> to <expected>, on 1-5."""
    from rapidfuzz import fuzz, utils

    output, expected = _tagged(prompt, "output"), _tagged(prompt, "expected")
    if expected:
        ratio = fuzz.partial_ratio(expected, output, processor=utils.default_process) / 100.0
    else:
        ratio = 0.5
    grade = 1 + round(4 * ratio)
    return (f"Score: {grade}\nReason: {PREFIX} offline judge: string similarity of the output to the expected "
            f"answer ({ratio:.2f}); it judges nothing about quality.")


class _OfflineIdentity:
    """What both offline models report about themselves, so tracking records them honestly."""

    @property
    def _llm_type(self) -> str:
        return "offline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop=None, **kwargs):
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "offline"
        params["ls_model_name"] = self.model_name
        return params


class OfflineChatModel(_OfflineIdentity, BaseChatModel):
    """Chat model that answers deterministically, calls bound tools, streams, and reports usage."""

    model_name: str = MODEL_NAME
    temperature: float = 0.1
    max_tokens: int | None = None

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        # tool_choice is accepted for API parity; the planner already decides when a tool is needed.
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _reply(self, messages: list[BaseMessage], tools: list[dict] | None, stop: list[str] | None) -> AIMessage:
        prompt = "\n".join(str(m.content) for m in messages)
        last_human = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], HumanMessage)), None)
        meta = {"model_name": self.model_name, "model_provider": "offline", "token_usage_approximate": True}
        if tools and last_human is not None:
            question = str(messages[last_human].content)
            observations = [str(m.content) for m in messages[last_human + 1 :] if isinstance(m, ToolMessage)]
            step = plan_next_step(question, observations, [t["function"]["name"] for t in tools], self.temperature)
            if isinstance(step, tuple):
                return self._tool_call(step, tools, len(observations), prompt, meta)
            text = step
        elif _is_react_prompt(prompt):
            text = _react_step(prompt, self.temperature)
        elif _is_judge_prompt(prompt):
            text = judge_reply(prompt)
        else:
            text = compose_text(prompt, self.temperature)
        text, finish = shorten(text, stop, self.max_tokens)
        return AIMessage(content=text, usage_metadata=_usage(prompt, text),
                         response_metadata={**meta, "finish_reason": finish})

    def _tool_call(self, step: tuple[str, str], tools: list[dict], turn: int, prompt: str, meta: dict) -> AIMessage:
        name, arg = step
        spec = next(t for t in tools if t["function"]["name"] == name)
        arg_name = next(iter(spec["function"]["parameters"].get("properties", {})), "query")
        call_id = "call_" + hashlib.sha256(f"{name}|{arg}|{turn}".encode()).hexdigest()[:12]
        return AIMessage(
            content="",
            tool_calls=[{"name": name, "args": {arg_name: arg}, "id": call_id, "type": "tool_call"}],
            usage_metadata=_usage(prompt, json.dumps({arg_name: arg})),
            response_metadata={**meta, "finish_reason": "tool_calls"},
        )

    def _generate(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs) -> ChatResult:
        message = self._reply(messages, kwargs.get("tools"), stop)
        return ChatResult(generations=[ChatGeneration(message=message)],
                          llm_output={"model_name": self.model_name, "token_usage_approximate": True})

    def _stream(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs) -> Iterator[ChatGenerationChunk]:
        message = self._reply(messages, kwargs.get("tools"), stop)
        if message.tool_calls:
            chunk = ChatGenerationChunk(message=AIMessageChunk(
                content="", tool_call_chunks=[{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"],
                                               "index": i} for i, c in enumerate(message.tool_calls)],
                usage_metadata=message.usage_metadata, response_metadata=message.response_metadata))
            if run_manager:
                run_manager.on_llm_new_token("", chunk=chunk)
            yield chunk
            return
        words = _words(message.content)
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = ChatGenerationChunk(message=AIMessageChunk(
                content=word,
                usage_metadata=message.usage_metadata if last else None,
                response_metadata=message.response_metadata if last else {},
            ))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk


class OfflineLLM(_OfflineIdentity, BaseLLM):
    """Completion model twin of OfflineChatModel; follows ReAct prompts for classic agents."""

    model_name: str = MODEL_NAME
    temperature: float = 0.1
    max_tokens: int | None = None

    def _complete(self, prompt: str, stop: list[str] | None) -> tuple[str, str]:
        if _is_judge_prompt(prompt):
            return shorten(judge_reply(prompt), stop, self.max_tokens)
        text = _react_step(prompt, self.temperature) if _is_react_prompt(prompt) else compose_text(prompt, self.temperature)
        return shorten(text, stop, self.max_tokens)

    def _generate(self, prompts: list[str], stop=None, run_manager=None, **kwargs) -> LLMResult:
        generations, usage = [], {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for prompt in prompts:
            text, finish = self._complete(prompt, stop)
            u = _usage(prompt, text)
            usage["prompt_tokens"] += u["input_tokens"]
            usage["completion_tokens"] += u["output_tokens"]
            usage["total_tokens"] += u["total_tokens"]
            generations.append([Generation(text=text, generation_info={"finish_reason": finish})])
        return LLMResult(generations=generations, llm_output={
            "token_usage": usage, "model_name": self.model_name, "token_usage_approximate": True})

    def _stream(self, prompt: str, stop=None, run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs) -> Iterator[GenerationChunk]:
        text, finish = self._complete(prompt, stop)
        words = _words(text)
        for i, word in enumerate(words):
            info = None
            if i == len(words) - 1:
                u = _usage(prompt, text)
                info = {"finish_reason": finish, "token_usage_approximate": True, "token_usage": {
                    "prompt_tokens": u["input_tokens"], "completion_tokens": u["output_tokens"],
                    "total_tokens": u["total_tokens"]}}
            chunk = GenerationChunk(text=word, generation_info=info)
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk


def _words(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*", text) or [text]


def _react_step(prompt: str, temperature: float = 0.0) -> str:
    tools_line = _number_after(r"one of \[([^\]]*)\]", prompt) or ""
    tool_names = [t.strip() for t in tools_line.split(",") if t.strip()]
    # The format instructions mention Question/Observation too: read only after the last question.
    scratch = prompt[prompt.rfind("Question:") :]
    question = (_number_after(r"Question:\s*(.+)", scratch) or "").strip()
    observations = [o.strip() for o in re.findall(r"Observation:\s*(.+)", scratch)]
    step = plan_next_step(question, observations, tool_names, temperature)
    if isinstance(step, tuple):
        return f"Thought: I should use {step[0]}.\nAction: {step[0]}\nAction Input: {step[1]}"
    return f"Thought: I now know the final answer.\nFinal Answer: {step}"
