"""Track LangChain runs in Amazon SageMaker Experiments, on AWS or fully offline."""
