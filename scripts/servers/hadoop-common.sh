# shellcheck shell=bash
# Shared by the scripts that run Apache Hadoop's HDFS (hdfs: the one-JVM minicluster;
# hdfs-daemons: one JVM per daemon). Sourced, not run; the sourcing script sets `set -euo pipefail`.
#
# Hadoop comes from Maven Central (servers/hdfs/pom.xml) into the Maven repository
# ${DATOFERUM_CACHE:-$HOME/.cache/datoferum}/m2; the computed classpath is cached beside it, keyed
# by the pom, so later starts need neither Maven nor the network. The benchmarks read that file
# too (its name and place are an interface: $CACHE/hdfs/classpath-<16 hex of the pom's sha256>.txt).

HADOOP_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HADOOP_SCRIPTS
readonly POM=$HADOOP_SCRIPTS/../../servers/hdfs/pom.xml
readonly CACHE=${DATOFERUM_CACHE:-$HOME/.cache/datoferum}
readonly START_TIMEOUT=${DATOFERUM_HDFS_START_TIMEOUT:-180}
readonly STOP_TIMEOUT=30

# shellcheck source=scripts/servers/common.sh
source "$HADOOP_SCRIPTS/common.sh"  # die, alive

say() { echo "$(basename "$0"): $*" >&2; }

need() {  # need COMMAND HINT: fail early, saying how to install what is missing
    command -v "$1" >/dev/null || die "'$1' is not installed: $2"
}

# The PID in FILE if that process is alive and is ours (a reused PID is never killed).
live_pid() {
    local file=$1 pattern=$2 pid args
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    args=$(ps -ww -o args= -p "$pid" 2>/dev/null) || return 1  # -ww: the classpath is long
    [[ $args == *"$pattern"* ]] || return 1
    echo "$pid"
}

check_java() {
    need java "install a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jdk-headless)"
    local version
    version=$(java -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = //p')
    if ! [[ ${version%%.*} =~ ^[0-9]+$ ]] || ((${version%%.*} < 17)); then
        die "Hadoop 3.5 needs Java 17 or newer, but 'java' is version ${version:-unknown}"
    fi
}

# True if every entry of the classpath file still exists (the Maven cache may have been pruned).
classpath_complete() {
    local jar
    [[ -s $1 ]] || return 1
    while IFS= read -r -d: jar || [[ -n $jar ]]; do
        [[ -e $jar ]] || return 1
    done <"$1"
}

# Print the path of a file holding the minicluster's classpath, resolving it the first time.
classpath_file() {
    local key file log
    key=$(sha256sum "$POM" | cut -c1-16)
    file=$CACHE/hdfs/classpath-$key.txt
    mkdir -p "$CACHE/hdfs"
    exec 8>"$CACHE/hdfs/maven.lock"
    flock 8  # one Maven at a time per cache: its local repository is not safe to share
    if ! classpath_complete "$file"; then
        need mvn "install Maven 3.8+ (Debian: apt-get install -y maven)"
        log=$CACHE/hdfs/maven.log
        say "resolving Hadoop from Maven Central into $CACHE/m2 (first run only)"
        if ! mvn -B -q -f "$POM" -Dmaven.repo.local="$CACHE/m2" \
            dependency:build-classpath -Dmdep.outputFile="$file.tmp" >"$log" 2>&1; then
            tail -n 30 "$log" >&2
            die "Maven could not resolve Hadoop (full log: $log); is Maven Central reachable?"
        fi
        mv "$file.tmp" "$file"
    fi
    exec 8>&-
    echo "$file"
}

http_get() { curl -fsS --max-time 5 "$@" 2>/dev/null; }

# Kill by PID: politely, then firmly; wait until the process is really gone.
kill_and_wait() {
    local pid=$1 waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while alive "$pid"; do
        if ((waited == STOP_TIMEOUT * 10)); then
            say "pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || return 0
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Hold DIR/lock (on descriptor 9) for the rest of the script: commands on one DIR never overlap.
lock_dir() {
    exec 9>"$1/lock"
    flock -w "$((START_TIMEOUT + STOP_TIMEOUT))" 9 || die "timed out waiting for $1/lock"
}
