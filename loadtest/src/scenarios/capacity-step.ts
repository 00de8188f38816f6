import type { Report } from '../report/model.js'
import type { ScenarioOptions } from './common.js'

export async function capacityStep(_options: ScenarioOptions): Promise<Report> {
  throw new Error('not yet')
}
