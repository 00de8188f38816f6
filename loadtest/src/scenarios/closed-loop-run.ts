/**
 * Runs the closed-loop scenario on its own, until the CLI wires it in:
 *   tsx loadtest/src/scenarios/closed-loop-run.ts [--duration s] [--users n] [--cpu ms] [--json file]
 */
import { writeFileSync } from 'node:fs'
import {
  type ClosedLoopScenarioOptions,
  formatClosedLoop,
  runClosedLoopScenario,
} from './closed-loop.js'

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const options: ClosedLoopScenarioOptions = {}
const durationS = flag('duration')
if (durationS !== undefined) options.durationMs = Number(durationS) * 1000
const users = flag('users')
if (users !== undefined) options.users = Number(users)
const cpu = flag('cpu')
if (cpu !== undefined) options.perRequestCpuMs = Number(cpu)
const result = await runClosedLoopScenario(options, (line) => process.stderr.write(`\r${line}   `))
process.stderr.write('\n')
console.log(formatClosedLoop(result))
const json = flag('json')
if (json !== undefined) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`)
