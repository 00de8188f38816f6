import {
  cgroupMemoryFiles,
  parseCgroupMemoryValue,
  readCgroupMemoryLimit,
} from '../../src/sensors/cgroup-memory.js'

/** A fake file system: paths not listed are missing. */
function files(contents: Record<string, string>): (path: string) => string | undefined {
  return (path) => contents[path]
}

const V1_UNLIMITED = '9223372036854771712\n'

describe('parseCgroupMemoryValue', () => {
  it('reads a v2 byte count, ignoring the trailing newline', () => {
    expect(parseCgroupMemoryValue('536870912\n', 2)).toBe(536870912)
  })

  it('reads v2 "max" as unlimited', () => {
    expect(parseCgroupMemoryValue('max\n', 2)).toBe('unlimited')
  })

  it('reads the v1 near-2^63 sentinel as unlimited and a real v1 limit as bytes', () => {
    expect(parseCgroupMemoryValue(V1_UNLIMITED, 1)).toBe('unlimited')
    expect(parseCgroupMemoryValue('1073741824\n', 1)).toBe(1073741824)
  })

  it('rejects text that is not a limit, and "max" on v1, and 0', () => {
    expect(parseCgroupMemoryValue('', 2)).toBeUndefined()
    expect(parseCgroupMemoryValue('12abc', 2)).toBeUndefined()
    expect(parseCgroupMemoryValue('-1', 1)).toBeUndefined()
    expect(parseCgroupMemoryValue('max', 1)).toBeUndefined()
    expect(parseCgroupMemoryValue('0', 2)).toBeUndefined()
  })
})

describe('cgroupMemoryFiles', () => {
  it('lists the v2 cgroup path and each ancestor, most specific first', () => {
    expect(cgroupMemoryFiles('0::/system.slice/app.service\n')).toEqual({
      version: 2,
      files: [
        '/sys/fs/cgroup/system.slice/app.service/memory.max',
        '/sys/fs/cgroup/system.slice/memory.max',
        '/sys/fs/cgroup/memory.max',
      ],
    })
  })

  it('uses the v1 memory hierarchy when a v1 line names the memory controller (hybrid hosts)', () => {
    const hybrid = '5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n'
    expect(cgroupMemoryFiles(hybrid)).toEqual({
      version: 1,
      files: [
        '/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes',
        '/sys/fs/cgroup/memory/docker/memory.limit_in_bytes',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes',
      ],
    })
  })

  it('finds memory among several v1 controllers on one line', () => {
    expect(cgroupMemoryFiles('7:memory,hugetlb:/\n').files).toEqual([
      '/sys/fs/cgroup/memory/memory.limit_in_bytes',
    ])
  })

  it('falls back to the v2 root when /proc/self/cgroup is missing', () => {
    expect(cgroupMemoryFiles(undefined)).toEqual({
      version: 2,
      files: ['/sys/fs/cgroup/memory.max'],
    })
  })

  it('never climbs above the cgroup root on a path with ".."', () => {
    expect(cgroupMemoryFiles('0::/../../etc\n').files).toEqual([
      '/sys/fs/cgroup/etc/memory.max',
      '/sys/fs/cgroup/memory.max',
    ])
  })
})

describe('readCgroupMemoryLimit', () => {
  it('reads a v2 container limit from the namespaced root', () => {
    const read = files({
      '/proc/self/cgroup': '0::/\n',
      '/sys/fs/cgroup/memory.max': '268435456\n',
    })
    expect(readCgroupMemoryLimit(read)).toEqual({
      limitBytes: 268435456,
      detail: '/sys/fs/cgroup/memory.max',
    })
  })

  it('reads a v1 container limit when the host path is not mounted in the container', () => {
    const read = files({
      '/proc/self/cgroup': '4:memory:/docker/0123abcd\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n',
    })
    expect(readCgroupMemoryLimit(read)).toEqual({
      limitBytes: 536870912,
      detail: '/sys/fs/cgroup/memory/memory.limit_in_bytes',
    })
  })

  it('takes the smallest limit along the path, since a parent limit binds its children', () => {
    const read = files({
      '/proc/self/cgroup': '0::/a/b\n',
      '/sys/fs/cgroup/a/b/memory.max': 'max\n',
      '/sys/fs/cgroup/a/memory.max': '1000000\n',
      '/sys/fs/cgroup/memory.max': '2000000\n',
    })
    expect(readCgroupMemoryLimit(read)).toEqual({
      limitBytes: 1000000,
      detail: '/sys/fs/cgroup/a/memory.max',
    })
  })

  it('reports no limit when v2 says "max"', () => {
    const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': 'max\n' })
    expect(readCgroupMemoryLimit(read)).toEqual({
      limitBytes: undefined,
      detail: 'cgroup v2 memory limit is unlimited',
    })
  })

  it('reports no limit when v1 holds the unlimited sentinel', () => {
    const read = files({
      '/proc/self/cgroup': '4:memory:/\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': V1_UNLIMITED,
    })
    expect(readCgroupMemoryLimit(read).limitBytes).toBeUndefined()
  })

  it('reports no limit when no limit file exists (not Linux, or cgroups not mounted)', () => {
    expect(readCgroupMemoryLimit(files({}))).toEqual({
      limitBytes: undefined,
      detail: 'no cgroup memory limit file could be read',
    })
  })

  it('reports no limit, naming the file, when the limit file holds garbage', () => {
    const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': 'lots\n' })
    expect(readCgroupMemoryLimit(read)).toEqual({
      limitBytes: undefined,
      detail: 'unparsable cgroup memory limit in /sys/fs/cgroup/memory.max',
    })
  })

  it('treats a reader that throws as a missing file, never letting the error out', () => {
    const read = (path: string): string | undefined => {
      if (path === '/sys/fs/cgroup/memory.max') return '4096\n'
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' })
    }
    expect(readCgroupMemoryLimit(read)).toEqual({
      limitBytes: 4096,
      detail: '/sys/fs/cgroup/memory.max',
    })
  })
})
