#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Debian's zstd without and with LD_PRELOAD=libzio.so: multi-threaded
# compression with a long window (large buffers, large copies between
# them) must give the same bytes, and decompression the original file.
dir=$(cd "$(dirname "$0")" && pwd)
lib=${ZIO_LIB:-$dir/../lib/libzio.so}
work=/tmp/zstd_test
n=0
status=0
ksft_skip=4	# kselftest's runner reports the test as skipped

if ! command -v zstd >/dev/null; then
	echo "SKIP: zstd is missing"
	exit $ksft_skip
fi
if [ ! -e /dev/zio ] || [ ! -r "$lib" ]; then
	echo "SKIP: /dev/zio or $lib is missing"
	exit $ksft_skip
fi

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		status=1
	fi
}

rm -rf $work
mkdir -p $work
# 24 MiB that compresses: random blocks, each repeated further on.
head -c 4194304 /dev/urandom >$work/r
for i in 1 2 3 4 5 6; do
	head -c $((i * 700001)) $work/r
	head -c 1048576 /dev/zero | tr '\0' "$i"
done >$work/in

echo "TAP version 13"
echo "1..3"
zstd -q -T2 -3 --long=26 -c $work/in >$work/plain.zst
LD_PRELOAD="$lib" ZIO_STATS=1 zstd -q -T2 -3 --long=26 -c $work/in \
	>$work/zio.zst 2>$work/stats
result $? "zstd: compression with libzio succeeds"
cmp -s $work/plain.zst $work/zio.zst
result $? "zstd: the same compressed bytes with and without libzio"
LD_PRELOAD="$lib" ZIO_STATS=1 zstd -q -d --long=26 -c $work/zio.zst \
	>$work/out 2>>$work/stats && cmp -s $work/in $work/out
result $? "zstd: decompression with libzio gives the original bytes"
sed 's/^/# /' $work/stats
[ $status = 0 ] && rm -rf $work
exit $status
