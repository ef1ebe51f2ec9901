"""⑤ Post-processing: pure array-in, array-out steps between the model and delivery."""
