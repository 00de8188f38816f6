import { cpus, loadavg } from 'node:os'
import type { RunResult } from '../harness/run.js'

/** The machine a report was measured on. */
export interface Machine {
  /** Logical CPUs (`nproc`). */
  cpus: number
  cpuModel: string
  node: string
  platform: string
  /** 1, 5 and 15-minute load averages when the scenario started: > cpus means a busy machine. */
  loadAverage: number[]
}

/** Runs shown side by side (same load, different protections). */
export interface ReportGroup {
  title: string
  runs: RunResult[]
  note?: string
}

/** An extra table (e.g. per priority), as strings. */
export interface ReportTable {
  title: string
  headers: string[]
  rows: string[][]
}

/** One scenario's report: what the terminal table, the JSON and the HTML show. */
export interface Report {
  title: string
  scenario: string
  createdAt: string
  machine: Machine
  /** Caveats printed next to the figures. */
  notes: string[]
  groups: ReportGroup[]
  tables: ReportTable[]
  /** Scenario-specific conclusions (burst recovery, calibrate's suggestion, ratios). */
  findings: string[]
}

/** Reads the machine's description. */
export function describeMachine(): Machine {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  }
}

/** The caveat that goes next to every figure. */
export function machineNote(machine: Machine): string {
  const busy =
    (machine.loadAverage[0] ?? 0) > machine.cpus * 0.5
      ? ` The machine was busy when the run started (load average ${machine.loadAverage.join(', ')}).`
      : ''
  return (
    `Measured on ${machine.cpus} CPU(s) (${machine.cpuModel}), Node ${machine.node}; the load generator ` +
    `runs on the same machine and shares its cores with the server, so absolute figures are noisy: ` +
    `compare ratios within one run.${busy}`
  )
}

/** An empty report for a scenario. */
export function createReport(scenario: string, title: string): Report {
  const machine = describeMachine()
  return {
    title,
    scenario,
    createdAt: new Date().toISOString(),
    machine,
    notes: [machineNote(machine)],
    groups: [],
    tables: [],
    findings: [],
  }
}
