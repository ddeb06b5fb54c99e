#!/usr/bin/env bash
# A try-out cluster on this machine (docs/scale-out.md): Redis, N playground processes and nginx
# in front of them, all stopped together on Ctrl-C.
#
#   scripts/cluster.sh [N]          N server processes (default 2), served on http://127.0.0.1:$PORT
#
# Beside them, WORKERS (default 2) `rq worker` processes run the "Find a bug" searches the
# servers put on the Redis queue `playground-check` (workers may run on other machines too).
#
# Environment: PORT (nginx, default 8080), BASE_PORT (process i listens on BASE_PORT+i, default
# 5100), REDIS_PORT (default 6390), RUN_DIR (configs, logs and a `backends` file of "port pid"
# lines; default a new temporary directory), PLAYGROUND_SECRET (default: a fresh random one),
# SETUP=0 to skip the virtualenv/npm setup (the tests, which have done it), CONN_PER_ADDRESS
# (nginx's cap on one address's open connections, default 320; load benches from one address
# need more).
# Needs redis-server and nginx (Debian: apt-get install redis-server nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}
PORT=${PORT:-8080}
BASE_PORT=${BASE_PORT:-5100}
REDIS_PORT=${REDIS_PORT:-6390}
case "$N" in ''|*[!0-9]*) echo "usage: scripts/cluster.sh [N]  (N = number of server processes, 1-16)" >&2; exit 2;; esac
if [ "$N" -lt 1 ] || [ "$N" -gt 16 ]; then echo "N must be 1 to 16" >&2; exit 2; fi
for tool in redis-server nginx; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "$tool not found: apt-get install redis-server nginx" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

[ "${SETUP:-1}" = 0 ] || bash scripts/setup.sh runtime
RUN_DIR=${RUN_DIR:-$(mktemp -d -t playground-cluster.XXXXXX)}
mkdir -p "$RUN_DIR/tmp"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
# One secret for all processes: a control token made by one is valid in every other, so the owner
# of a run whose process died can bring it back on another under the same id.
export PLAYGROUND_SECRET=${PLAYGROUND_SECRET:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}
export PLAYGROUND_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
export PLAYGROUND_PROXY_HOPS=1     # nginx sets X-Forwarded-For: limits per address see the client

pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$RUN_DIR" \
  --logfile "$RUN_DIR/redis.log" &
redis_pid=$!
pids+=("$redis_pid")

: >"$RUN_DIR/backends"
upstreams=""
for i in $(seq 1 "$N"); do
  p=$((BASE_PORT + i))
  .venv/bin/python app.py --port "$p" >"$RUN_DIR/server-$i.log" 2>&1 &
  pids+=($!)
  echo "$p $!" >>"$RUN_DIR/backends"
  upstreams+="    server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"$'\n'
done

WORKERS=${WORKERS:-2}
for i in $(seq 1 "$WORKERS"); do
  # Lower priority than the servers: a search must never slow a class's runs.
  nice -n 10 .venv/bin/rq worker --quiet --url "$PLAYGROUND_REDIS" playground-check \
    >"$RUN_DIR/worker-$i.log" 2>&1 &
  pids+=($!)
done

user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"    # workers must read and write RUN_DIR
cat >"$RUN_DIR/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/nginx-error.log warn;
daemon off;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $RUN_DIR/tmp/body;
  proxy_temp_path $RUN_DIR/tmp/proxy;
  fastcgi_temp_path $RUN_DIR/tmp/fastcgi;
  uwsgi_temp_path $RUN_DIR/tmp/uwsgi;
  scgi_temp_path $RUN_DIR/tmp/scgi;

  # Every request of a session goes to the process that holds it: the Socket.IO URL carries
  # ?route=KEY, a page URL ?session=KEY.rest; hash on KEY. Requests with neither (the gallery,
  # static files) have an empty key, which nginx spreads round-robin.
  map \$arg_session \$pp_session_route {
    "~^(?<key>[A-Za-z0-9_-]+)\\." \$key;
    default \$arg_session;
  }
  map \$arg_route \$pp_route {
    "" \$pp_session_route;
    default \$arg_route;
  }
  map \$http_upgrade \$pp_connection {
    default upgrade;
    "" close;
  }
  upstream playground {
    hash \$pp_route consistent;   # a dead process's keys move to the next one; the others stay
$upstreams  }

  # What the server's own transport limits do when nobody is in front of it (docs/socket-api.md).
  limit_conn_zone \$binary_remote_addr zone=per_address:10m;
  client_header_timeout 10s;
  client_max_body_size 1m;

  server {
    listen 127.0.0.1:$PORT;
    limit_conn per_address ${CONN_PER_ADDRESS:-320};
    location / {
      proxy_pass http://playground;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$pp_connection;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host:\$server_port;
      proxy_set_header X-Forwarded-Port \$server_port;
      proxy_buffering off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout;
    }
  }
}
EOF
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/nginx-error.log" &
nginx_pid=$!
pids+=("$nginx_pid")

echo "Protocol Playground cluster: $N processes and $WORKERS search workers behind http://127.0.0.1:$PORT/ (Redis on $REDIS_PORT; logs in $RUN_DIR)"
# A server process may die (that is what failover is for); Redis or nginx dying ends the try-out.
while kill -0 "$redis_pid" 2>/dev/null && kill -0 "$nginx_pid" 2>/dev/null; do sleep 1; done
echo "redis-server or nginx exited; stopping the cluster (logs in $RUN_DIR)" >&2
exit 1
