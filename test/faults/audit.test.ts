// The packages a user installs (dependencies, not devDependencies) have no
// known high or critical advisory, per `npm audit`. Skipped, saying why, when
// the registry cannot be asked (offline, or a mirror without the audit API).
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {test} from 'node:test'
import {REPO} from '../remote/bpfd-env.js'

type AuditJson = {
  metadata?: {vulnerabilities?: Record<string, number>}
  vulnerabilities?: Record<string, {severity: string; via: unknown[]}>
  statusCode?: number
  message?: string
  error?: {code?: string; summary?: string}
}

test('npm audit --omit=dev: no high or critical advisory', (t) => {
  const r = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], {cwd: REPO, encoding: 'utf8', timeout: 120_000})
  if (r.error) return t.skip(`npm audit could not run: ${r.error.message}`)
  let audit: AuditJson
  try {
    audit = JSON.parse(r.stdout) as AuditJson
  } catch {
    return t.skip(`npm audit gave no JSON (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`)
  }
  const counts = audit.metadata?.vulnerabilities
  if (!counts) {
    const why = audit.statusCode ? `the registry answered ${audit.statusCode}${audit.message ? ` (${audit.message})` : ''}` : audit.error?.code ?? audit.error?.summary ?? audit.message ?? 'no audit report'
    return t.skip(`the registry cannot be asked for advisories: ${why}`)
  }
  const serious = Object.entries(audit.vulnerabilities ?? {}).filter(([, v]) => v.severity === 'high' || v.severity === 'critical')
  assert.deepEqual(
    serious.map(([name, v]) => `${name} (${v.severity})`),
    [],
    'run `npm audit --omit=dev` for the advisories and fixes',
  )
  assert.equal((counts.high ?? 0) + (counts.critical ?? 0), 0)
})
