#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU, started with srun:
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args]
# e.g. GPUS=16 tools/slurm_train.sh gpu segmenter CONFIG --work-dir work_dirs/run1
# (the work dir is train.py's --work-dir, not a positional argument).
# Environment: GPUS (8): tasks in all; GPUS_PER_NODE (8): tasks per node;
#   CPUS_PER_TASK (5); SRUN_ARGS (""): more srun options;
#   PORT (29500): the process group's TCP port on the first node (MASTER_PORT
#   wins if set); MASTER_ADDR: only to override the first node of the job.
# Each task maps SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID to RANK / WORLD_SIZE /
# LOCAL_RANK and takes the master address from `scontrol show hostnames` when
# it works, else from SLURM_NODELIST or SLURM_LAUNCH_NODE_IPADDR, else fails at
# once saying what it tried (depict/engine/slurm.py; docs/tools.md, "Many machines").
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
export MASTER_PORT=${MASTER_PORT:-${PORT:-29500}}
HERE=$(cd "$(dirname "$0")" && pwd)
PY_ARGS=("${@:4}")

PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$HERE/train.py" "$CONFIG" --launcher slurm "${PY_ARGS[@]}"
