#!/bin/sh
# array_test.sh LEAP MODEL - a real Slurm on this machine runs a 4-task job
# array of `leap sample --shard auto`; the merged parts must be the bytes of
# one `leap sample --raw-out` run (issue 18). It starts munged, slurmctld
# and slurmd itself (Debian's slurm-wlm and munge; as root, no systemd:
# proctrack/linuxproc, task/none), each with this test's own config, ports,
# spool and state folders, and stops exactly the daemons it started. Exits
# 77 (skipped, with the reason) when Slurm or munge is not installed or it
# is not root.
set -eu
LEAP=$1
MODEL=$2
skip() { echo "SKIPPED: $*"; exit 77; }
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (Debian: slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the test starts slurmd, which runs jobs as root here: run it as root"
[ -r /etc/munge/munge.key ] || skip "no /etc/munge/munge.key (the munge package makes it)"

WORK=$(mktemp -d /tmp/leap_slurm_XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/out"
HOST=$(hostname -s)
CPUS=$(nproc)
# Ports of our own, so that another Slurm on the machine is not disturbed.
PORT=$((17000 + $$ % 2000))
cat > "$WORK/slurm.conf" <<CONF
ClusterName=leaptest
SlurmctldHost=$HOST
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$WORK/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=leap Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$WORK/slurm.conf"

# munged --force: run even though its folders' owners are not what it wants.
munged --force --foreground --socket="$WORK/munge.sock" --pid-file="$WORK/munged.pid" \
  --log-file="$WORK/munged.log" --seed-file="$WORK/munged.seed" >/dev/null 2>&1 &
PIDS="$PIDS $!"
slurmctld -D -i > "$WORK/slurmctld.stdout" 2>&1 &
PIDS="$PIDS $!"
slurmd -D > "$WORK/slurmd.stdout" 2>&1 &
PIDS="$PIDS $!"
i=0
until sinfo -h -o %t 2>/dev/null | grep -q idle; do
  i=$((i + 1))
  if [ $i -gt 300 ]; then
    echo "FAIL: the node did not come up"; tail -n 20 "$WORK"/*.log "$WORK"/*.stdout 2>/dev/null; exit 1
  fi
  sleep 0.1
done

RUN="sample --model $MODEL --backend cpu --threads 1 --n 24 --steps 2 --seed 3 --batch 4 --quiet"
sbatch --wait --array=0-3 --cpus-per-task=1 --output="$WORK/out/task-%a.log" \
  --wrap "$LEAP $RUN --shard auto --raw-out $WORK/out/p.safetensors" > "$WORK/sbatch.out" || {
  echo "FAIL: the job array failed"; cat "$WORK"/out/task-*.log; exit 1
}
"$LEAP" merge "$WORK/out/p.safetensors.index.json" --out "$WORK/merged.safetensors" --quiet
"$LEAP" $RUN --raw-out "$WORK/one.safetensors" --out "$WORK/one.png"
if ! cmp "$WORK/merged.safetensors" "$WORK/one.safetensors"; then
  echo "FAIL: the merged parts differ from one run"; exit 1
fi
echo "PASS: 4 array tasks, merged parts byte-identical to one run ($(cat "$WORK/sbatch.out"))"
