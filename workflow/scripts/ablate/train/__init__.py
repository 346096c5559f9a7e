"""Training one cell: models, augmentation, optimizers, the training loop, device runtime."""
