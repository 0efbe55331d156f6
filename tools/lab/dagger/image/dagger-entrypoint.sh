#!/bin/sh
# Entrypoint of the lab's Dagger engine container. The lab runs it without --privileged (these machines refuse it:
# CAP_SYS_RESOURCE is not in the bounding set), so Docker mounts /sys and the cgroup hierarchies read-only; runc
# inside the engine must create cgroups and write to them, and the container has the capabilities to remount.
set -eu

mount -o remount,rw /sys
# Every cgroup mount (v1 controllers or the v2 unified tree), read-write.
awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts | while read -r target; do
  mount -o remount,bind,rw "$target"
done

# cgroup v2: a cgroup with processes cannot enable controllers for its children, so move ours into a leaf first
# (as Docker's dind does), then delegate every controller.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
fi

# The engine keeps a SQLite database per client; 1024 open files is too few.
ulimit -n 1048576 || echo "dagger-entrypoint: cannot raise the open-files limit; continuing" >&2

exec tini -- /usr/local/bin/dagger-engine "$@"
