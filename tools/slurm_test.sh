#!/usr/bin/env bash
# Testing on a Slurm cluster, one task per GPU, started with srun:
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
# e.g. GPUS=8 tools/slurm_test.sh gpu test CONFIG work_dirs/run1/iter_160000.pth --tta
# Environment: GPUS (4): tasks in all; GPUS_PER_NODE (4): tasks per node;
#   CPUS_PER_TASK (5); SRUN_ARGS (""): more srun options;
#   PORT (29500): the process group's TCP port on the first node (MASTER_PORT
#   wins if set); MASTER_ADDR: only to override the first node of the job.
# Ranks and the master address as in tools/slurm_train.sh.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
export MASTER_PORT=${MASTER_PORT:-${PORT:-29500}}
HERE=$(cd "$(dirname "$0")" && pwd)
PY_ARGS=("${@:5}")

PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$HERE/test.py" "$CONFIG" "$CHECKPOINT" --launcher slurm "${PY_ARGS[@]}"
