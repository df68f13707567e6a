#!/usr/bin/env bash
# The peers coturn may relay to, as turnserver arguments (one per line), for a TURN server relaying on the address $1.
# Relayed traffic may reach only the callers' own relays: never private networks, carrier-grade NAT, link-local (cloud
# metadata) or "this network" addresses. Loopback peers stay allowed only while coturn relays on loopback (one machine:
# the relays themselves are loopback addresses); relaying on any other address, they are denied.
# Used by ./platform run (scripts/run.sh) and by the test that checks it (tests/EndToEnd.Tests/TurnPeerPolicyTests.cs).
set -euo pipefail
relay_ip="${1:?usage: turn-peer-policy.sh RELAY_IP}"
printf '%s\n' --denied-peer-ip=0.0.0.0-0.255.255.255 --denied-peer-ip=10.0.0.0-10.255.255.255 \
  --denied-peer-ip=100.64.0.0-100.127.255.255 --denied-peer-ip=169.254.0.0-169.254.255.255 \
  --denied-peer-ip=172.16.0.0-172.31.255.255 --denied-peer-ip=192.168.0.0-192.168.255.255 \
  --denied-peer-ip=fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --denied-peer-ip=fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff
case "$relay_ip" in
  127.*) printf '%s\n' --allow-loopback-peers ;;
  *) printf '%s\n' --denied-peer-ip=127.0.0.0-127.255.255.255 --denied-peer-ip=::1 ;;
esac
