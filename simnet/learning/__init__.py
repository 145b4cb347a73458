"""Learning: fine-tuning settings and objective, the training loop, the procedures, the gate, pretraining."""
