#!/bin/sh
# Quick start: two HTTP backends in their own network namespaces, a virtual IP on a dummy interface, and
# ipvsctl loading quickstart.rules; then curl through the VIP and watch IPVS balance and count.
# Runs as root on a kernel with IPVS (in the project's VM: Tests/vm/run -- deploy/examples/quickstart.sh).
# Everything it creates is removed at the end.
set -eu
here=$(dirname "$(realpath "$0")")
ipvsctl=${IPVSCTL:-$here/../../.build/release/ipvsctl}
[ -x "$ipvsctl" ] || { echo "quickstart: $ipvsctl not found: run 'swift build -c release' first" >&2; exit 1; }
web=$(mktemp -d)

cleanup() {
	set +e
	"$ipvsctl" -D -t 10.96.0.10:80 2>/dev/null
	for i in 1 2; do
		ip netns pids "qs-be$i" 2>/dev/null | xargs -r kill
		ip netns del "qs-be$i" 2>/dev/null
	done
	ip link del qs-ipvs0 2>/dev/null
	rm -rf "$web"
}
trap cleanup EXIT

echo "== backends: busybox httpd in namespaces qs-be1 (10.244.1.15) and qs-be2 (10.244.2.15)"
ip link set lo up
for i in 1 2; do
	ip netns add "qs-be$i"
	ip link add "qs-veth$i" type veth peer name eth0 netns "qs-be$i"
	ip addr add "10.244.$i.1/24" dev "qs-veth$i"
	ip link set "qs-veth$i" up
	ip -n "qs-be$i" link set lo up
	ip -n "qs-be$i" addr add "10.244.$i.15/24" dev eth0
	ip -n "qs-be$i" link set eth0 up
	ip -n "qs-be$i" route add default via "10.244.$i.1"
	mkdir -p "$web/be$i"
	echo "hello from backend $i" >"$web/be$i/index.html"
	ip netns exec "qs-be$i" busybox httpd -p 8080 -h "$web/be$i"
done

echo "== virtual IP 10.96.0.10 on dummy interface qs-ipvs0"
ip link add qs-ipvs0 type dummy
ip addr add 10.96.0.10/32 dev qs-ipvs0
ip link set qs-ipvs0 up
sysctl -qw net.ipv4.vs.conntrack=1

echo "== ipvsctl -R < quickstart.rules"
"$ipvsctl" -R <"$here/quickstart.rules"
"$ipvsctl" -L -n

echo "== four requests to http://10.96.0.10/"
for _ in 1 2 3 4; do curl -s --max-time 5 http://10.96.0.10/; done

# The kernel folds its per-CPU counters into the totals it reports every 2 seconds.
sleep 3
echo "== ipvsctl -L -n --stats"
"$ipvsctl" -L -n --stats
echo "== ipvsctl list -o json"
"$ipvsctl" list -o json
