#!/bin/bash
# The agent demo: four HTTP backends in network namespaces with the pod IPs of manifests/, ipvsd started on
# config.yaml, then traffic to the ClusterIPs, a backend failing and recovering under the health loop, and
# a stop that leaves the rules in place until `ipvsd cleanup`.
# Runs as root on a kernel with IPVS (in the project's VM: Tests/vm/run -- deploy/examples/agent-demo.sh),
# from the repository root. Everything it creates is removed at the end.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
bin=${IPVS_DEMO_BIN:-.build/release}
for tool in ipvsd ipvsctl; do
	[[ -x $bin/$tool ]] || { echo "agent-demo: $bin/$tool not found: run 'swift build -c release' first" >&2; exit 1; }
done
config=deploy/examples/config.yaml
web=$(mktemp -d)
log=$web/ipvsd.log
pods=(prod-a:10.244.1.11 prod-b:10.244.1.12 default-x:10.244.2.21 default-y:10.244.2.22)
agent=''

cleanup() {
	set +e
	[[ -n $agent ]] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	"$bin/ipvsd" cleanup --config "$config" >/dev/null 2>&1
	for pod in "${pods[@]}"; do
		ip netns pids "demo-${pod%%:*}" 2>/dev/null | xargs -r kill
		ip netns del "demo-${pod%%:*}" 2>/dev/null
	done
	ip link del demo-br 2>/dev/null
	rm -rf "$web" /run/ipvsd-demo
}
trap cleanup EXIT

serve() { # namespace name ports...
	local ns=$1 name=$2
	shift 2
	for port in "$@"; do
		mkdir -p "$web/$name/$port"
		echo "$name:$port" >"$web/$name/$port/index.html"
		ip netns exec "$ns" busybox httpd -p "$port" -h "$web/$name/$port"
	done
}

echo "== backends: busybox httpd in namespaces on bridge demo-br (10.244.0.1/16)"
ip link set lo up
ip link add demo-br type bridge
ip addr add 10.244.0.1/16 dev demo-br
ip link set demo-br up
for pod in "${pods[@]}"; do
	name=${pod%%:*} address=${pod#*:} ns=demo-${pod%%:*}
	ip netns add "$ns"
	ip link add "v-$name" type veth peer name eth0 netns "$ns"
	ip link set "v-$name" master demo-br up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$address/16" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 10.244.0.1
	case $name in prod-*) serve "$ns" "$name" 8080 ;; *) serve "$ns" "$name" 8080 9090 50051 ;; esac
	echo "   $name $address"
done

echo "== ipvsd check --config $config"
"$bin/ipvsd" check --config "$config"

echo "== ipvsd run --config $config (log: $log)"
"$bin/ipvsd" run --config "$config" 2>"$log" &
agent=$!
for _ in $(seq 100); do
	curl -sf --max-time 1 http://127.0.0.1:9750/readyz >/dev/null && break
	kill -0 "$agent" 2>/dev/null || { cat "$log"; exit 1; }
	sleep 0.2
done
curl -sf http://127.0.0.1:9750/readyz
"$bin/ipvsctl" -L -n
echo "== ipvsctl agent services"
"$bin/ipvsctl" agent services

requests() { # url count: which backend answered, counted
	for _ in $(seq "$2"); do curl -s --max-time 2 "$1" || echo "(failed)"; done | sort | uniq -c
}
prod=$("$bin/ipvsctl" agent services | awk '$2 == "production/backend-api:http" { sub(/:80\/tcp$/, "", $1); print $1 }')
echo "== 8 requests to production/backend-api at its allocated ClusterIP $prod:80"
requests "http://$prod/" 8
for port in 80 9090 50051; do
	echo "== 6 requests to default/backend-api at 10.96.100.50:$port"
	requests "http://10.96.100.50:$port/" 6
done

echo "== default-y's web servers stop: the health loop takes it out (interval 1s x fall 3 + timeout)"
ip netns pids demo-default-y | xargs -r kill
sleep 6
"$bin/ipvsctl" agent health
requests "http://10.96.100.50/" 6

echo "== default-y's web servers come back: it returns after rise 2"
serve demo-default-y default-y 8080 9090 50051
sleep 4
requests "http://10.96.100.50/" 6

echo "== Prometheus metrics (excerpt)"
curl -s http://127.0.0.1:9750/metrics | grep -E '^ipvsd_(virtual_servers|real_servers|virtual_server_connections_total)' | sort

echo "== SIGTERM: ipvsd stops and the rules stay; traffic still flows"
kill "$agent" && wait "$agent" || true
agent=''
tail -n 1 "$log"
requests "http://10.96.100.50/" 2
echo "== ipvsd cleanup removes what ipvsd owns"
"$bin/ipvsd" cleanup --config "$config"
"$bin/ipvsctl" -L -n
