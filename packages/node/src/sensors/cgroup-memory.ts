/**
 * The container memory limit, from cgroup files, for the RSS signal.
 *
 * How it works: `/proc/self/cgroup` names this process's cgroup. A line
 * `N:…memory…:/path` means the memory controller is on cgroup v1
 * (`/sys/fs/cgroup/memory/<path>/memory.limit_in_bytes`); otherwise the line
 * `0::/path` means cgroup v2 (`/sys/fs/cgroup/<path>/memory.max`). A parent
 * cgroup's limit binds its children too, so the path and each of its
 * ancestors up to the root are read and the smallest limit wins. Inside a
 * container the host's path is often not mounted; only the readable files
 * count, which leaves the container's own root file. "No limit" is `max` on
 * v2 and a number near 2^63 on v1. Anything unreadable or unparsable yields
 * no limit: the RSS signal then fails open (disabled), never guessed.
 */

/** Reads a whole small file; `undefined` when it is missing or unreadable. */
export type ReadFile = (path: string) => string | undefined

export interface CgroupMemoryLimit {
  /** The limit in bytes, or `undefined` when the process has no readable limit. */
  readonly limitBytes: number | undefined
  /** The file the limit came from, or why there is none (for `readings()`). */
  readonly detail: string
}

// v1 reports "unlimited" as PAGE_COUNTER_MAX pages (about 2^63 bytes); nothing real is near 2^62.
const V1_UNLIMITED_BYTES = 2 ** 62

const PROC_SELF_CGROUP = '/proc/self/cgroup'

function ancestors(cgroupPath: string): string[] {
  const parts = cgroupPath.split('/').filter((part) => part !== '' && part !== '.' && part !== '..')
  const result: string[] = []
  for (let depth = parts.length; depth >= 0; depth--) {
    result.push(depth === 0 ? '' : `/${parts.slice(0, depth).join('/')}`)
  }
  return result
}

interface Hierarchy {
  readonly version: 1 | 2
  readonly files: readonly string[]
}

/** Which files to read, most specific first, from the contents of `/proc/self/cgroup`. */
export function cgroupMemoryFiles(procSelfCgroup: string | undefined): Hierarchy {
  let v1Path: string | undefined
  let v2Path: string | undefined
  for (const line of (procSelfCgroup ?? '').split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim())
    if (match === null) continue
    const [, id, controllers = '', path = '/'] = match
    if (id === '0' && controllers === '') v2Path = path
    else if (controllers.split(',').includes('memory')) v1Path = path
  }
  // A v1 memory line means the memory controller lives on v1, even on hybrid hosts.
  if (v1Path !== undefined) {
    return {
      version: 1,
      files: ancestors(v1Path).map((p) => `/sys/fs/cgroup/memory${p}/memory.limit_in_bytes`),
    }
  }
  return {
    version: 2,
    files: ancestors(v2Path ?? '/').map((p) => `/sys/fs/cgroup${p}/memory.max`),
  }
}

/**
 * Parses one limit file: bytes, `'unlimited'`, or `undefined` when the text
 * is not a limit at all.
 */
export function parseCgroupMemoryValue(
  text: string,
  version: 1 | 2,
): number | 'unlimited' | undefined {
  const value = text.trim()
  if (version === 2 && value === 'max') return 'unlimited'
  if (!/^\d+$/.test(value)) return undefined
  const bytes = Number(value)
  if (version === 1 && bytes >= V1_UNLIMITED_BYTES) return 'unlimited'
  return bytes > 0 ? bytes : undefined
}

function safeRead(readFile: ReadFile, path: string): string | undefined {
  try {
    const text = readFile(path)
    return typeof text === 'string' ? text : undefined
  } catch {
    return undefined
  }
}

/** Finds the memory limit that binds this process, failing open (no limit) on any doubt. */
export function readCgroupMemoryLimit(readFile: ReadFile): CgroupMemoryLimit {
  const hierarchy = cgroupMemoryFiles(safeRead(readFile, PROC_SELF_CGROUP))
  let best: { bytes: number; path: string } | undefined
  let unlimited = false
  let unparsable: string | undefined
  for (const path of hierarchy.files) {
    const text = safeRead(readFile, path)
    if (text === undefined) continue
    const parsed = parseCgroupMemoryValue(text, hierarchy.version)
    if (parsed === undefined) unparsable ??= path
    else if (parsed === 'unlimited') unlimited = true
    else if (best === undefined || parsed < best.bytes) best = { bytes: parsed, path }
  }
  if (best !== undefined) return { limitBytes: best.bytes, detail: best.path }
  if (unlimited) {
    return {
      limitBytes: undefined,
      detail: `cgroup v${hierarchy.version} memory limit is unlimited`,
    }
  }
  if (unparsable !== undefined) {
    return { limitBytes: undefined, detail: `unparsable cgroup memory limit in ${unparsable}` }
  }
  return { limitBytes: undefined, detail: 'no cgroup memory limit file could be read' }
}
