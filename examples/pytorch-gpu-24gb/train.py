"""Example training entry point (not run by provision; it only reads the repository)."""

import torch

device = torch.device("cuda")
print(torch.cuda.get_device_name(device))
