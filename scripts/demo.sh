#!/usr/bin/env bash
# `make demo`: build the lab, run site.yml against it, print what runs where and what is only
# validated. The lab stays up afterwards (`make lab-down` removes it).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
ansible-playbook playbooks/lab.yml
python3 scripts/standin_images.py --push 127.0.0.1:5000
ansible-playbook -i inventories/lab/docker.yml site.yml
python3 scripts/summary.py --elapsed $(( $(date +%s) - start ))
