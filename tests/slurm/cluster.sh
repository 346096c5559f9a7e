#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the tests: slurmctld and slurmd on the
# loopback interface, select/cons_tres, one GRES gpu backed by /dev/null (jobs that ask
# for a GPU run one at a time, as on a one-GPU node), no accounting database.
#
#   tests/slurm/cluster.sh start    install (Debian slurm-wlm, munge) if needed, configure, start
#   tests/slurm/cluster.sh stop     stop the daemons and remove the configuration
#   tests/slurm/cluster.sh status   exit 0 when the node accepts jobs
#
# Idempotent: start on a running cluster only checks it. Needs root.
set -euo pipefail

NODE=$(hostname -s)
CPUS=$(nproc)
# Leave the machine some memory of its own.
MEMORY=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 3 / 4 ))
CONF=/etc/slurm
STATE=/var/lib/ablate-slurm
LOGS=/var/log/ablate-slurm
MARK="Written by ablate's tests/slurm/cluster.sh"
APT_LOCK=/var/lock/ablate-tests-apt.lock

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    # One apt at a time: the report test may install chromium beside us (tests/browser.py).
    flock "$APT_LOCK" apt-get update -qq
    flock "$APT_LOCK" apt-get install -y -qq -o DPkg::Lock::Timeout=600 slurm-wlm munge >/dev/null
}

ours() {  # the configuration in place is this script's (or there is none)
    [[ ! -e "$CONF/slurm.conf" ]] || head -n 1 "$CONF/slurm.conf" | grep -q "$MARK"
}

configure() {
    mkdir -p "$CONF" "$STATE/ctld" "$STATE/d" "$LOGS" /etc/munge /var/log/munge /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
    chown -R munge:munge /etc/munge /var/log/munge /run/munge 2>/dev/null || true
    chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
    cat > "$CONF/slurm.conf" <<CONFIG
# $MARK: a one-node test cluster on loopback.
ClusterName=ablate-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# Finished jobs stay visible to squeue this long: the executor plugin polls with it.
MinJobAge=3600
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONFIG
    echo "NodeName=$NODE Name=gpu File=/dev/null" > "$CONF/gres.conf"
}

running() {
    sinfo --noheader --responding --states=idle,mixed,allocated --format=%N 2>/dev/null | grep -q .
}

start() {
    install
    if ! ours; then
        echo "slurm: $CONF/slurm.conf belongs to a real SLURM setup; not touching it" >&2
        exit 1
    fi
    if running; then
        echo "slurm: $NODE already up"
        return
    fi
    configure
    pgrep -x munged >/dev/null || runuser -u munge -- munged --force 2>/dev/null || munged --force
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 60); do
        # A node left down or drained by an earlier run comes back with RESUME.
        scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        if running; then
            echo "slurm: $NODE up ($CPUS CPUs, ${MEMORY} MB, gres gpu:1)"
            return
        fi
        sleep 1
    done
    echo "slurm: $NODE did not come up; see $LOGS" >&2
    tail -n 20 "$LOGS"/*.log >&2 || true
    exit 1
}

stop() {
    if [[ ! -e "$CONF/slurm.conf" ]] || ! ours; then
        echo "slurm: no test cluster of ours here"
        return
    fi
    # Only the daemons of our configuration, by the PID files it names.
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        [[ -s "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    pkill -x munged || true
    # Take our configuration away too: with a slurm.conf naming a controller that is down,
    # every SLURM client (and snakemake's SLURM plugin, when it loads) waits for it.
    rm -f "$CONF/slurm.conf" "$CONF/gres.conf"
    echo "slurm: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) running ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
