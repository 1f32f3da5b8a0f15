#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the cluster rehearsal (tests/cluster, make test-cluster).
#
#   scripts/local_slurm.sh start|stop|status [STATE_DIR]     (STATE_DIR: default /tmp/dynrcnn-slurm)
#
# start: installs the Debian packages (slurm-wlm munge slurmdbd mariadb-server) when they are missing and this runs
#   as root, writes slurm.conf, gres.conf and slurmdbd.conf into STATE_DIR/etc (one node 'localhost' with this
#   machine's CPUs, its memory less some headroom and two fake GPUs; one partition 'debug'), links them at
#   /etc/slurm (jobs' inner srun reads only that place; files already there are kept aside and put back by stop),
#   starts munged, mariadbd, slurmdbd, slurmctld and slurmd, and waits until the node is idle. It writes
#   STATE_DIR/cluster.env (PARTITION, CPUS, GPUS, MEM_MB, SLURM_CONF). Starting a running cluster does nothing.
# stop: cancels the cluster's jobs, stops the daemons it started (by their pid files), drops the accounting
#   database and restores /etc/slurm. Stopping a stopped cluster does nothing.
# status: the daemons and the node; exit 0 when the cluster runs, 1 otherwise.
#
# Exit codes: 0 done, 1 failure (the daemons' logs' tails are printed), 2 usage, 3 the packages are missing and
# cannot be installed (not root, or apt-get failed): the tests skip on 3.
# Environment: LOCAL_SLURM_TIMEOUT (seconds to wait for each daemon, default 60), LOCAL_SLURM_DB_PORT (MariaDB's
# TCP port on 127.0.0.1, default 3306).
# What it proves and does not: see the README's "Cluster rehearsal" (one node, fake GPUs, no CUDA, no NCCL).
set -euo pipefail

CMD=${1:-}
STATE_DIR=${2:-/tmp/dynrcnn-slurm}
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
CLUSTER=dynrcnn
PARTITION=debug
NODE=localhost
GPUS=2
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=dynrcnn-rehearsal
DB_PORT=${LOCAL_SLURM_DB_PORT:-3306}
TIMEOUT=${LOCAL_SLURM_TIMEOUT:-60}
ETC_SLURM=/etc/slurm
CONF_FILES=(slurm.conf gres.conf slurmdbd.conf)
BACKUP_SUFFIX=.dynrcnn-backup
# the daemons in start order, by their process names (a pid file names a live daemon only when its process has that
# name: a reused pid does not count)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { printf '%s local_slurm: %s\n' "$(date '+%F %T.%3N')" "$*"; }
die() {
    log "ERROR: $*" >&2
    exit 1
}
usage() {
    echo "usage: $0 start|stop|status [STATE_DIR]" >&2
    exit 2
}

STATE_DIR=$(realpath -m "$STATE_DIR")
ETC=$STATE_DIR/etc
RUN=$STATE_DIR/run
LOGS=$STATE_DIR/log
export SLURM_CONF=$ETC/slurm.conf

# munged and mariadbd run as their own users: their pid files, sockets and logs are in folders of theirs
pid_file() {
    case $1 in
    munged) echo "$RUN/munge/munged.pid" ;;
    mariadbd) echo "$RUN/mysql/mariadbd.pid" ;;
    *) echo "$RUN/$1.pid" ;;
    esac
}

# the pid of daemon $1 when it runs (its pid file names a live process of that name), else nothing
live_pid() {
    local file pid
    file=$(pid_file "$1")
    [[ -s $file ]] || return 1
    pid=$(tr -dc '0-9' <"$file")
    [[ -n $pid && -r /proc/$pid/comm ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && running "$pid" || return 1
    echo "$pid"
}

# wait up to $TIMEOUT s for the command "$@" to succeed; $1 says what is awaited
wait_for() {
    local what=$1 deadline=$((SECONDS + TIMEOUT))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${TIMEOUT}s waiting for $what" >&2
            show_logs >&2
            die "the cluster did not start ($what); the logs are in $LOGS"
        fi
        sleep 0.2
    done
}

show_logs() {
    local f
    for f in "$LOGS"/*.log "$LOGS"/*/*.log; do
        [[ -f $f ]] || continue
        echo "----- tail of $f"
        tail -n 20 "$f"
    done
}

packages_missing() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    echo "${missing[@]}"
}

install_packages() {
    local missing
    missing=$(packages_missing)
    [[ -z $missing ]] && return 0
    if [[ $EUID -ne 0 ]]; then
        log "missing Debian packages: $missing; run this as root to install them, or: apt-get install $missing" >&2
        exit 3
    fi
    # the packages' scripts must not start services: the daemons are started below, with this cluster's files
    local policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    log "installing the missing Debian packages (non-interactive apt-get, about 1-2 minutes): $missing"
    local apt=(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends)
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" $missing >"$LOGS/apt.log" 2>&1; then
        log "apt-get install failed; running apt-get update and trying again"
        # shellcheck disable=SC2086
        if ! { DEBIAN_FRONTEND=noninteractive apt-get -q update &&
            DEBIAN_FRONTEND=noninteractive "${apt[@]}" $missing; } >>"$LOGS/apt.log" 2>&1; then
            ((policy_added)) && rm -f /usr/sbin/policy-rc.d
            tail -n 20 "$LOGS/apt.log" >&2
            log "could not install $missing (log: $LOGS/apt.log)" >&2
            exit 3
        fi
    fi
    ((policy_added)) && rm -f /usr/sbin/policy-rc.d
    log "installed $missing"
}

write_configs() {
    local cpus mem_total_mb mem_mb d
    cpus=$(nproc)
    mem_total_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    # headroom for the system and the daemons: a tenth of the memory, at least 1 GiB
    local headroom=$((mem_total_mb / 10 > 1024 ? mem_total_mb / 10 : 1024))
    mem_mb=$((mem_total_mb - headroom))
    ((mem_mb >= 1024)) || die "too little memory for a cluster: ${mem_total_mb} MB"
    mkdir -p "$STATE_DIR/dev" "$STATE_DIR/spool/ctld" "$STATE_DIR/spool/d"
    for d in 0 1; do
        [[ -c $STATE_DIR/dev/fakegpu$d ]] || mknod "$STATE_DIR/dev/fakegpu$d" c 1 3 ||
            die "mknod $STATE_DIR/dev/fakegpu$d failed: the fake GPUs need a character device"
    done
    cat >"$ETC/slurm.conf" <<EOF
# written by scripts/local_slurm.sh: a single-node rehearsal cluster (two fake GPUs)
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
GresTypes=gpu
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
StateSaveLocation=$STATE_DIR/spool/ctld
SlurmdSpoolDir=$STATE_DIR/spool/d
SlurmctldPidFile=$(pid_file slurmctld)
SlurmdPidFile=$(pid_file slurmd)
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$ETC/gres.conf" <<EOF
NodeName=$NODE Name=gpu File=$STATE_DIR/dev/fakegpu[0-$((GPUS - 1))]
EOF
    (
        umask 077
        cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$(pid_file slurmdbd)
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
    )
    chmod 600 "$ETC/slurmdbd.conf"
    cat >"$STATE_DIR/cluster.env" <<EOF
PARTITION=$PARTITION
CPUS=$cpus
GPUS=$GPUS
MEM_MB=$mem_mb
SLURM_CONF=$ETC/slurm.conf
STATE_DIR=$STATE_DIR
EOF
    log "wrote $ETC/{slurm,gres,slurmdbd}.conf: node $NODE, $cpus CPUs, $mem_mb MB, $GPUS fake GPUs, partition $PARTITION"
}

# link the files at /etc/slurm; the ones there already are kept aside (restored by unlink_etc)
link_etc() {
    local f
    if [[ ! -d $ETC_SLURM ]]; then
        mkdir -p "$ETC_SLURM"
        touch "$STATE_DIR/etc-slurm-created"
    fi
    for f in "${CONF_FILES[@]}"; do
        if [[ -L $ETC_SLURM/$f && $(readlink "$ETC_SLURM/$f") == "$ETC/$f" ]]; then
            continue
        fi
        if [[ -e $ETC_SLURM/$f || -L $ETC_SLURM/$f ]]; then
            [[ -e $ETC_SLURM/$f$BACKUP_SUFFIX ]] || mv "$ETC_SLURM/$f" "$ETC_SLURM/$f$BACKUP_SUFFIX"
            rm -f "$ETC_SLURM/$f"
            log "kept $ETC_SLURM/$f aside as $f$BACKUP_SUFFIX"
        fi
        ln -s "$ETC/$f" "$ETC_SLURM/$f"
    done
}

unlink_etc() {
    local f
    for f in "${CONF_FILES[@]}"; do
        if [[ -L $ETC_SLURM/$f && $(readlink "$ETC_SLURM/$f") == "$ETC/$f" ]]; then
            rm -f "$ETC_SLURM/$f"
        fi
        if [[ -e $ETC_SLURM/$f$BACKUP_SUFFIX && ! -e $ETC_SLURM/$f ]]; then
            mv "$ETC_SLURM/$f$BACKUP_SUFFIX" "$ETC_SLURM/$f"
            log "restored $ETC_SLURM/$f"
        fi
    done
    if [[ -e $STATE_DIR/etc-slurm-created ]]; then
        rmdir "$ETC_SLURM" 2>/dev/null || true
        rm -f "$STATE_DIR/etc-slurm-created"
    fi
}

munge_works() { munge -n | unmunge; }
db() { mariadb --protocol=socket --socket="$RUN/mysql/mysqld.sock" -u root "$@"; }
node_idle() { [[ $(sinfo -h -n "$NODE" -o %t 2>/dev/null) == idle ]]; }

start_munged() {
    if munge_works >/dev/null 2>&1; then
        log "munged already runs (not started here, will not be stopped here)"
        return
    fi
    install -d -o munge -g munge -m 755 /run/munge "$RUN/munge" "$LOGS/munge"
    runuser -u munge -- /usr/sbin/munged --pid-file="$(pid_file munged)" --log-file="$LOGS/munge/munged.log" ||
        die "munged did not start (log: $LOGS/munge/munged.log)"
    wait_for munged munge_works
    log "munged started (pid $(live_pid munged || echo ?))"
}

start_mariadbd() {
    if [[ ! -d $STATE_DIR/mysql/mysql ]]; then
        install -d -o mysql -g mysql -m 700 "$STATE_DIR/mysql"
        mariadb-install-db --user=mysql --datadir="$STATE_DIR/mysql" --skip-test-db \
            --auth-root-authentication-method=socket >"$LOGS/mariadb-install-db.log" 2>&1 ||
            die "mariadb-install-db failed (log: $LOGS/mariadb-install-db.log)"
    fi
    install -d -o mysql -g mysql -m 755 "$RUN/mysql" "$LOGS/mysql"
    setsid /usr/sbin/mariadbd --user=mysql --datadir="$STATE_DIR/mysql" --socket="$RUN/mysql/mysqld.sock" \
        --pid-file="$(pid_file mariadbd)" --port="$DB_PORT" --bind-address=127.0.0.1 \
        --log-error="$LOGS/mysql/mariadbd.log" </dev/null >/dev/null 2>&1 &
    wait_for mariadbd db -e 'SELECT 1'
    db <<EOF
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
EOF
    log "mariadbd started (pid $(live_pid mariadbd || echo ?), port $DB_PORT)"
}

start() {
    mkdir -p "$STATE_DIR" "$ETC" "$RUN" "$LOGS"
    # mariadbd runs as mysql, munged as munge: they must reach their files
    chmod 755 "$STATE_DIR" "$RUN" "$LOGS"
    if status >/dev/null 2>&1; then
        log "the cluster already runs ($STATE_DIR): nothing to do"
        return 0
    fi
    local d
    for d in "${DAEMONS[@]}"; do
        if live_pid "$d" >/dev/null; then
            log "the cluster runs in part: stopping it first"
            stop
            mkdir -p "$ETC" "$RUN" "$LOGS"
            break
        fi
    done
    local t0=$SECONDS
    log "starting a single-node SLURM cluster in $STATE_DIR"
    install_packages
    # a fresh controller state: job ids restart at 1, so the accounting database is dropped on stop as well
    rm -rf "$STATE_DIR/spool"
    write_configs
    if scontrol ping 2>/dev/null | grep -q UP; then
        die "another SLURM controller answers on this machine ($(readlink -f "$ETC_SLURM/slurm.conf" || true)): stop it first"
    fi
    link_etc
    start_munged
    start_mariadbd
    /usr/sbin/slurmdbd || die "slurmdbd did not start"
    wait_for slurmdbd sacctmgr -n -P list cluster
    log "slurmdbd started (pid $(live_pid slurmdbd || echo ?))"
    /usr/sbin/slurmctld -i || die "slurmctld did not start"
    wait_for slurmctld scontrol ping
    log "slurmctld started (pid $(live_pid slurmctld || echo ?))"
    /usr/sbin/slurmd -N "$NODE" || die "slurmd did not start"
    wait_for "the node to be idle in sinfo" node_idle
    log "slurmd started (pid $(live_pid slurmd || echo ?)); the node is idle ($((SECONDS - t0)) s)"
    sinfo -o '%P %D %t %c %m %G'
}

# whether process $1 runs (a zombie, exited but not yet reaped by init, does not)
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [[ ${stat##*) } != Z* ]]
}

# stop daemon $1 by its pid file: TERM, then KILL after 20 s
stop_daemon() {
    local pid i
    pid=$(live_pid "$1") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        running "$pid" || break
        sleep 0.2
    done
    if running "$pid"; then
        log "$1 (pid $pid) ignored TERM for 20 s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$(pid_file "$1")"
    log "stopped $1 (pid $pid)"
}

stop() {
    local i running=0 d
    for d in "${DAEMONS[@]}"; do
        live_pid "$d" >/dev/null && running=1
    done
    if ((running == 0)); then
        log "the cluster is not running ($STATE_DIR)"
    fi
    if live_pid slurmctld >/dev/null && [[ -n $(squeue -h -o %i 2>/dev/null) ]]; then
        log "cancelling the cluster's jobs"
        squeue -h -o %i | xargs -r scancel 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon slurmdbd
    if live_pid mariadbd >/dev/null; then
        db -e "DROP DATABASE IF EXISTS $DB_NAME" && log "dropped the accounting database $DB_NAME"
        stop_daemon mariadbd
    fi
    stop_daemon munged
    unlink_etc
    rm -rf "$STATE_DIR/spool"
    ((running == 0)) || log "the cluster is stopped (logs kept in $LOGS)"
}

status() {
    local d pid ok=0
    for d in "${DAEMONS[@]}"; do
        if pid=$(live_pid "$d"); then
            echo "$d: running (pid $pid)"
        elif [[ $d == munged ]] && munge_works >/dev/null 2>&1; then
            echo "$d: running (not started here)"
        else
            echo "$d: stopped"
            ok=1
        fi
    done
    if ((ok == 0)) && node_idle_or_busy; then
        sinfo -o '%P %D %t %c %m %G'
        return 0
    fi
    return 1
}

node_idle_or_busy() { [[ $(sinfo -h -n "$NODE" -o %t 2>/dev/null) =~ ^(idle|mix|alloc)$ ]]; }

case $CMD in
start) start ;;
stop) stop ;;
status) status ;;
*) usage ;;
esac
