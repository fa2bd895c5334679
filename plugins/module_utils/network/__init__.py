"""Networks: the segment plan and zero-trust policy (netplan) and the pfSense config.xml it is written into."""
