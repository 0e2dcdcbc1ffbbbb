#!/usr/bin/env bash
# Multi-process training with torchrun, on one node or several:
#   tools/dist_train.sh CONFIG GPUS [train.py args]
# GPUS: processes on this node (without CUDA: CPU processes, gloo backend).
# Environment (the same on every node except NODE_RANK; see docs/tools.md, "Many machines"):
#   NNODES (1)            number of nodes
#   NODE_RANK (0)         this node: 0 (the master) to NNODES-1
#   MASTER_ADDR (127.0.0.1)  node 0's host name or IP, as the other nodes reach it
#   PORT (29500)          a free TCP port on node 0
#   RDZV_TIMEOUT (300)    seconds to wait for the other nodes; then every node
#                         fails, naming the missing nodes and the address
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
RDZV_TIMEOUT=${RDZV_TIMEOUT:-300}
HERE=$(cd "$(dirname "$0")" && pwd)

# depict/engine/launch.py: torchrun with --rdzv-conf timeout=RDZV_TIMEOUT, and
# lines saying which nodes it waits for.
PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
python "$HERE/../depict/engine/launch.py" \
    --nnodes="$NNODES" \
    --node-rank="$NODE_RANK" \
    --master-addr="$MASTER_ADDR" \
    --master-port="$PORT" \
    --nproc-per-node="$GPUS" \
    --rdzv-timeout="$RDZV_TIMEOUT" \
    "$HERE/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
