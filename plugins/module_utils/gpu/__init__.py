"""GPUs: the NVML layer that reads them and the assignment of GPUs to services."""
