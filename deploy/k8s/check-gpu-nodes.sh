#!/bin/bash
# Run deploy/k8s/node-check-job.yaml on every GPU node, collect the JSON reports, merge them with
# `trtllm-doctor fleet`, and exit non-zero (stopping the rollout that calls this) when a node fails
# or the nodes disagree. Needs kubectl and trtllm-doctor where it runs.
#   NAMESPACE=serving SELECTOR=nvidia.com/gpu.present=true ./deploy/k8s/check-gpu-nodes.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NAMESPACE="${NAMESPACE:-default}"
SELECTOR="${SELECTOR:-nvidia.com/gpu.present=true}"
REPORTS="${REPORTS:-$(mktemp -d)}"
mapfile -t NODES < <(kubectl get nodes -l "$SELECTOR" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
[ "${#NODES[@]}" -gt 0 ] || { echo "no nodes match $SELECTOR" >&2; exit 2; }
for node in "${NODES[@]}"; do
  sed "s/NODE_NAME/$node/g" "$HERE/node-check-job.yaml" | kubectl -n "$NAMESPACE" apply -f -
done
failed=0
for node in "${NODES[@]}"; do
  job="trtllm-doctor-$node"
  kubectl -n "$NAMESPACE" wait --for=condition=complete --timeout=600s "job/$job" || failed=1
  kubectl -n "$NAMESPACE" logs "job/$job" > "$REPORTS/$node.json" || true
done
nodes=$(IFS=,; echo "${NODES[*]}")
trtllm-doctor fleet "$REPORTS" --nodes "$nodes" --max-age 1h || failed=1
exit "$failed"
