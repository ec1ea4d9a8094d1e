"""The proposal's example, as written there (with the bundled default model instead of "gpt2").

Run: .venv/bin/python examples/proposal.py
"""

from mindpilot import AutopilotWithMentalProcess, MentalProcess, create_autopilot_system

autopilot_model, autopilot_tokenizer = create_autopilot_system()

mental_process = MentalProcess()
mental_process.update_domain_knowledge(
    "Machine Learning",
    "Supervised learning is a type of machine learning where the model learns from labelled "
    "examples: inputs paired with the correct outputs.",
)
mental_process.update_emotional_states("Customer Support", "Empathy")
mental_process.update_individual_experiences(
    "Customer Support", "Resolved a billing issue for a frustrated customer"
)

autopilot_with_mental_process = AutopilotWithMentalProcess(
    autopilot_model, autopilot_tokenizer, mental_process
)
generated_text = autopilot_with_mental_process.generate_text(
    "Explain the concept of supervised learning.", "Machine Learning"
)
print(generated_text)
