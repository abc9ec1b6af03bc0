#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Debian's redis-server without and with LD_PRELOAD=libzio.so: SET and GET
# of large random values, checked byte for byte with redis-cli, plus the
# commands that copy values inside the server (COPY, APPEND, GETRANGE);
# then BGSAVE (a fork that writes the snapshot), restart, reload and check
# everything again. With the preload, the copies and bytes zio deferred are
# reported from the library's and the module's counters (ZIO_STATS=1).
dir=$(cd "$(dirname "$0")" && pwd)
lib=${ZIO_LIB:-$dir/../lib/libzio.so}
work=/tmp/redis_test
port=6390
n=0
status=0
ksft_skip=4	# kselftest's runner reports the test as skipped

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "SKIP: redis-server or redis-cli is missing"
	exit $ksft_skip
fi
if [ ! -e /dev/zio ] || [ ! -r "$lib" ]; then
	echo "SKIP: /dev/zio or $lib is missing"
	exit $ksft_skip
fi

ok() { n=$((n + 1)); echo "ok $n $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n $*"; status=1; }
result() { if [ "$1" = 0 ]; then shift; ok "$@"; else shift; not_ok "$@"; fi; }

cli() { redis-cli -p $port "$@"; }

rm -rf $work
mkdir -p $work/values

# Values around the thresholds and well above: random bytes, some sizes odd.
sizes="100 4096 65535 65536 70001 131072 262147 1048576 1500000 3145733 4194304 6000011"
i=0
for size in $sizes; do
	i=$((i + 1))
	head -c "$size" /dev/urandom >$work/values/v$i
done
count=$i

# Compare GET KEY (redis-cli adds a newline) with FILE.
same() {
	cli --raw GET "$1" >$work/got 2>/dev/null || return 1
	{ cat "$2"; echo; } >$work/want
	cmp -s $work/got $work/want
}

start() {	# MODE
	rm -f $work/$1.pid
	if [ "$1" = zio ]; then
		env LD_PRELOAD="$lib" ZIO_STATS=1 redis-server --port $port --bind 127.0.0.1 \
			--dir $work/$1 --dbfilename dump.rdb --save "" --appendonly no \
			--protected-mode no --logfile $work/$1/log --daemonize no \
			2>>$work/$1/stderr &
	else
		redis-server --port $port --bind 127.0.0.1 \
			--dir $work/$1 --dbfilename dump.rdb --save "" --appendonly no \
			--protected-mode no --logfile $work/$1/log --daemonize no \
			2>>$work/$1/stderr &
	fi
	echo $! >$work/$1.pid
	for _ in $(seq 600); do
		[ "$(cli ping 2>/dev/null)" = PONG ] &&
			cli info persistence 2>/dev/null | grep -q '^loading:0' && return 0
		sleep 0.1
	done
	return 1
}

stop() {	# MODE
	pid=$(cat $work/$1.pid)
	cli shutdown nosave >/dev/null 2>&1
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null || { kill -9 "$pid"; return 1; }
	wait "$pid"
}

# All keys as they must be: v$i, their COPY c$i, the APPEND chain and a range.
check_all() {
	i=0
	while [ $i -lt $count ]; do
		i=$((i + 1))
		same v$i $work/values/v$i || { echo "# v$i differs"; return 1; }
		same c$i $work/values/v$i || { echo "# c$i (COPY) differs"; return 1; }
	done
	same chain $work/chain || { echo "# chain (APPEND) differs"; return 1; }
	cli --raw GETRANGE v12 1000000 3000000 >$work/got
	{ tail -c +1000001 $work/values/v12 | head -c 2000001; echo; } >$work/want
	cmp -s $work/got $work/want || { echo "# GETRANGE differs"; return 1; }
}

echo "TAP version 13"
echo "1..8"
for mode in plain zio; do
	mkdir -p $work/$mode
	: >$work/chain

	start $mode
	result $? "redis ($mode): server starts"

	err=0
	i=0
	while [ $i -lt $count ]; do
		i=$((i + 1))
		cli -x SET v$i <$work/values/v$i >/dev/null || err=1
		cli COPY v$i c$i >/dev/null || err=1
		cli -x APPEND chain <$work/values/v$i >/dev/null || err=1
		cat $work/values/v$i >>$work/chain
	done
	[ $err = 0 ] && check_all
	result $? "redis ($mode): SET, COPY, APPEND, GET, GETRANGE of $count values byte for byte"

	before=$(cli LASTSAVE)
	cli BGSAVE >/dev/null
	saved=1
	for _ in $(seq 600); do
		if [ "$(cli LASTSAVE)" != "$before" ] &&
		   cli info persistence | grep -q '^rdb_bgsave_in_progress:0'; then
			cli info persistence | grep -q '^rdb_last_bgsave_status:ok' && saved=0
			break
		fi
		sleep 0.1
	done
	stop $mode && [ $saved = 0 ] && [ -s $work/$mode/dump.rdb ]
	result $? "redis ($mode): BGSAVE and shutdown"

	start $mode && check_all
	result $? "redis ($mode): restart, reload the snapshot, every value byte for byte"
	stop $mode
done

# What zio did, from ZIO_STATS=1 of both zio runs.
sed 's/^/# /' $work/zio/stderr
awk '/ module: copies / { gsub(",", ""); c += $4; b += $7; m += $21 }
     END { printf "# redis with libzio (module counters): %d copies, %d bytes deferred, %d pages materialized\n", c, b, m }' \
	$work/zio/stderr
[ $status = 0 ] && rm -rf $work
exit $status
