/**
 * Stand-in `adb` and `ssh` executables for tests. They implement just the
 * invocations the transports make, by running the "device" or "remote host"
 * commands on this machine, with the device's /data/local/tmp (adb) or the
 * host's /tmp (ssh) mapped to a private directory. Tests put their directory
 * first on PATH.
 */
import {chmodSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export interface StandIns {
  /** Put first on PATH. */
  readonly bin: string
  /** What the device's /data/local/tmp maps to. */
  readonly deviceTmp: string
  /** What the ssh host's /tmp maps to. */
  readonly hostTmp: string
  /** One line per stand-in invocation: `adb ARGS` / `ssh ARGS`. */
  readonly log: string
}

const ADB = `#!/bin/sh
# Stand-in for adb (tests only). Knows -s SERIAL, shell CMD, exec-out CMD and
# push SRC DST; the device is this machine with /data/local/tmp mapped.
echo "adb $*" >> "$STANDIN_LOG"
if [ "$1" = -s ]; then
  if [ "$2" != "$FAKE_ADB_SERIAL" ]; then echo "adb: device '$2' not found" >&2; exit 1; fi
  shift 2
fi
map() { printf '%s' "$1" | sed "s#/data/local/tmp#$FAKE_DEVICE_TMP#g"; }
sub=$1; shift
case "$sub" in
  shell|exec-out) exec sh -c "$(map "$*")" ;;
  push) cp "$1" "$(map "$2")" && echo "$1: 1 file pushed" ;;
  *) echo "adb stand-in: unsupported command $sub" >&2; exit 1 ;;
esac
`

/** \`id -u\` answers FAKE_ADB_UID when set, to play an unprivileged adb shell. */
const ID = `#!/bin/sh
if [ "$1" = -u ] && [ -n "$FAKE_ADB_UID" ]; then echo "$FAKE_ADB_UID"; exit 0; fi
exec /usr/bin/id "$@"
`

/** Magisk-style \`su -c CMD\`, present only when FAKE_ADB_SU is set. */
const SU = `#!/bin/sh
if [ -z "$FAKE_ADB_SU" ]; then echo "su: not found" >&2; exit 127; fi
echo "su $*" >> "$STANDIN_LOG"
[ "$1" = -c ] || exit 1
FAKE_ADB_UID= exec sh -c "$2"
`

const SSH = `#!/bin/sh
# Stand-in for ssh (tests only). Knows -o OPT and -T, then HOST CMD; the host
# is this machine with /tmp mapped.
echo "ssh $*" >> "$STANDIN_LOG"
while [ $# -gt 0 ]; do
  case "$1" in
    -o) shift 2 ;;
    -T) shift ;;
    -*) echo "ssh stand-in: unknown option $1" >&2; exit 255 ;;
    *) break ;;
  esac
done
host=$1; shift
if [ "$host" != "$FAKE_SSH_HOST" ]; then
  echo "ssh: Could not resolve hostname $host: Name or service not known" >&2; exit 255
fi
exec sh -c "$(printf '%s' "$*" | sed -E "s#/tmp(/|\\b)#$FAKE_HOST_TMP\\1#g")"
`

export function makeStandIns(): StandIns {
  const root = mkdtempSync(join(tmpdir(), 'bpftools-standins-'))
  const bin = join(root, 'bin')
  const deviceTmp = join(root, 'device-tmp')
  const hostTmp = join(root, 'host-tmp')
  for (const dir of [bin, deviceTmp, hostTmp]) mkdirSync(dir)
  for (const [name, text] of [['adb', ADB], ['id', ID], ['su', SU], ['ssh', SSH]]) {
    writeFileSync(join(bin, name), text)
    chmodSync(join(bin, name), 0o755)
  }
  const log = join(root, 'invocations.log')
  writeFileSync(log, '')
  return {bin, deviceTmp, hostTmp, log}
}

/** Sets environment variables for the duration of `body`. */
export async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  try {
    return await body()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}
