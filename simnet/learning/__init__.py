"""Learning: fine-tuning procedures, pretraining, the translation module."""
