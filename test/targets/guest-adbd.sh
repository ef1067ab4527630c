#!/bin/sh
# /sbin/adbd of the test guests: a stand-in for an Android device's adbd,
# serving one connection of test/targets/bin/adb (busybox nc runs it with the
# TCP connection on stdin/stdout). Test-only; see docs/targets.md.
#
# Request: one line "shell CMD", "exec CMD" or "push PATH". Reply: "OKAY",
# then
#   shell  CMD's output (stdout and stderr), then "\n__ADB_EXIT__ STATUS"
#   exec   CMD's output, raw, until CMD exits (stdin carries the host's input)
#   push   the bytes up to the host's end of stream go to PATH; then the
#          shell trailer with the status
# Commands run as the user shell (uid 2000), as adb shell does on a
# production device; su in /system/xbin is the way to root.

export PATH=/system/xbin:/system/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/ USER=shell
# busybox sh runs its own applets before searching PATH, so `su` would be
# busybox's: the device's su (/system/xbin/su, installed by the test that
# wants one) is made a function, as PATH would make it on a phone.
DEVICE_SH='su() { /system/xbin/su "$@"; }; '
as_shell() { cmd=$1; shift; /bin/busybox su -p -s /bin/sh shell -c "$DEVICE_SH$cmd" "$@"; }

IFS= read -r request || exit 0
verb=${request%% *}
arg=${request#"$verb"}
arg=${arg# }
case $verb in
  shell)
    echo OKAY
    as_shell "$arg" 2>&1
    printf '\n__ADB_EXIT__ %d\n' "$?" ;;
  exec)
    echo OKAY
    exec /bin/busybox su -p -s /bin/sh shell -c "$DEVICE_SH$arg" 2>&1 ;;
  push)
    echo OKAY
    # shellcheck disable=SC2016
    as_shell 'cat > "$1"' push "$arg" 2>&1
    printf '\n__ADB_EXIT__ %d\n' "$?" ;;
  *)
    echo "FAIL unknown request '$verb'" ;;
esac
