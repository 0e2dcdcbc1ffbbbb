#!/usr/bin/env bash
# Multi-process testing with torchrun, on one node or several:
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# GPUS: processes on this node (without CUDA: CPU processes, gloo backend).
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# RDZV_TIMEOUT (300 s), as in tools/dist_train.sh.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
RDZV_TIMEOUT=${RDZV_TIMEOUT:-300}
HERE=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
python "$HERE/../depict/engine/launch.py" \
    --nnodes="$NNODES" \
    --node-rank="$NODE_RANK" \
    --master-addr="$MASTER_ADDR" \
    --master-port="$PORT" \
    --nproc-per-node="$GPUS" \
    --rdzv-timeout="$RDZV_TIMEOUT" \
    "$HERE/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
