"""The seed's three scenarios as evaluation targets: prompt variants, bundled datasets, scorers.

build_target(parameters) makes the runnable of one grid point; run_point evaluates it in one run.
"""

from __future__ import annotations

from typing import Any

from ..evaluation.scorers import contains, length_between, numeric, similarity

PROMPTS = {
    "jokes": {
        "plain": "Tell me a joke about {topic}.",
        "detailed": "You are a comedian.\nTopic: {topic}\nWrite a detailed joke about the topic above:",
    },
    "plays": {
        "plain": "Write a one-line synopsis of the play {title}.",
        "detailed": "You are a theatre critic.\nPlay: {title}\nWrite a detailed synopsis of the play above:",
    },
    "agent": {
        "plain": "",
        "detailed": "Answer with the number itself. Use the calculator for every arithmetic step, in detail.",
    },
}
DATASETS = {"jokes": "joke_topics", "plays": "play_titles", "agent": "agent_questions"}


def scorers_for(scenario: str) -> list:
    """What 'better' means in each scenario (offline, these only show that the machinery works)."""
    if scenario == "jokes":
        return [contains(name="mentions_topic"), length_between(max_chars=120, name="short_enough")]
    if scenario == "plays":
        return [contains(name="mentions_title"), similarity()]
    if scenario == "agent":
        return [numeric(tolerance=1e-3, relative=True, name="correct_number")]
    raise ValueError(f"Unknown scenario {scenario!r}; use one of {', '.join(PROMPTS)}.")


def check_point(parameters: dict[str, Any]) -> None:
    """Raise naming the parameter and value a grid point cannot use."""
    scenario = parameters.get("scenario", "jokes")
    if scenario not in PROMPTS:
        raise ValueError(f"scenario={scenario!r} is unknown; use one of {', '.join(PROMPTS)}.")
    prompt = parameters.get("prompt", "plain")
    if prompt not in PROMPTS[scenario]:
        raise ValueError(f"prompt={prompt!r} is not a prompt variant of {scenario}; use one of "
                         f"{', '.join(PROMPTS[scenario])}.")
    temperature = parameters.get("temperature", 0.1)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise ValueError(f"temperature={temperature!r} must be a number from 0 to 2.")


def build_target(parameters: dict[str, Any]):
    """The runnable of one grid point: scenario, prompt variant, temperature, llm_provider, model_name."""
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda

    from ..providers import make_model

    check_point(parameters)
    scenario = parameters.get("scenario", "jokes")
    prompt = PROMPTS[scenario][parameters.get("prompt", "plain")]
    model = make_model(parameters.get("llm_provider", "offline"), model_name=parameters.get("model_name"),
                       temperature=float(parameters.get("temperature", 0.1)))
    if scenario != "agent":
        return ChatPromptTemplate.from_template(prompt) | model
    from langchain.agents import create_agent

    from ..tools import make_tools

    agent = create_agent(model, make_tools(parameters.get("search", "offline")), system_prompt=prompt or None)
    return (RunnableLambda(lambda row: {"messages": [("user", row["input"])]}, name="ask")
            | agent | RunnableLambda(lambda state: state["messages"][-1].content, name="final_answer"))


def run_point(parameters: dict[str, Any], *, experiment_name: str, run_name: str, sagemaker_session,
              max_concurrency: int = 8, progress: bool = True, limit: int | None = None):
    """Evaluate one grid point: its scenario's bundled dataset (or `dataset`), scorers, one run."""
    from ..evaluation import evaluate
    from ..evaluation.datasets import iter_rows

    scenario = parameters.get("scenario", "jokes")
    check_point(parameters)
    data = parameters.get("dataset") or DATASETS[scenario]
    if limit:
        rows = []
        while len(rows) < limit:  # a small dataset repeats, so any row count can be benchmarked
            rows.extend(r for r in iter_rows(data))
        data = rows[:limit]
    return evaluate(build_target, data, scorers_for(scenario), experiment_name=experiment_name, run_name=run_name,
                    sagemaker_session=sagemaker_session, max_concurrency=max_concurrency, parameters=parameters,
                    progress=progress)
