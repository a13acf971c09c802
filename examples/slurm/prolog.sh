#!/bin/bash
# Slurm Prolog (slurm.conf: Prolog=/etc/slurm/prolog.d/trtllm-doctor.sh), run by slurmd on each node before a job.
# A non-zero exit here DRAINS the node, so only errors fail it (fail_on in the policy), and only for jobs that ask:
#   sbatch --comment=trtllm-doctor ...
set -uo pipefail
case "${SLURM_JOB_COMMENT:-}" in *trtllm-doctor*) ;; *) exit 0 ;; esac
OUT=/var/log/trtllm-doctor
mkdir -p "$OUT"
timeout 120 /opt/trtllm-doctor/bin/trtllm-doctor check \
  --config /etc/trtllm-doctor/trtllm-doctor.toml \
  --format json --output "$OUT/${SLURM_JOB_ID}-$(hostname -s).json"
code=$?
# 1 = findings at the failing severity (drain: the node is not fit); 2/3/124 = the doctor itself failed (do not drain)
[ "$code" -eq 1 ] && exit 1
exit 0
