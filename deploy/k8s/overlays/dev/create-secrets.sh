#!/usr/bin/env bash
# Creates the secrets the dev overlay references, with random values, in namespace platform-dev (or $1).
# Nothing secret is ever committed: production gets the same names from CloudNativePG, the RabbitMQ cluster
# operator and your secret store (deploy/k8s/README.md, "Secrets").
set -euo pipefail
namespace="${1:-platform-dev}"
kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace"
random() { openssl rand -hex 24; }
keys="$(mktemp -d)"; trap 'rm -rf "$keys"' EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/signing.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/encryption.pem" 2>/dev/null
apply() { kubectl -n "$namespace" create secret generic "$@" --dry-run=client -o yaml | kubectl apply -f - >/dev/null; }
if ! kubectl -n "$namespace" get secret platform-postgres-app >/dev/null 2>&1; then
  apply platform-postgres-app --from-literal=username=platform --from-literal=password="$(random)"
fi
if ! kubectl -n "$namespace" get secret platform-rabbitmq-default-user >/dev/null 2>&1; then
  apply platform-rabbitmq-default-user --from-literal=username=platform --from-literal=password="$(random)"
fi
if ! kubectl -n "$namespace" get secret platform-identity-keys >/dev/null 2>&1; then
  apply platform-identity-keys --from-file=signing.pem="$keys/signing.pem" --from-file=encryption.pem="$keys/encryption.pem"
fi
echo "secrets present in $namespace: platform-postgres-app, platform-rabbitmq-default-user, platform-identity-keys"
