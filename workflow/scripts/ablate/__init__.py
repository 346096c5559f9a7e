"""ablate: image-classification ablation studies."""
